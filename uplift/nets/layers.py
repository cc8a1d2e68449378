"""Building blocks shared by every uplift network: towers, the click → conversion chain, all-arm scoring.

Every network predicts, for the impression's own arm, a click logit and a conversion-given-click
logit; p_ctcvr = p_ctr · p_cvr (ESMM). It is trained only on the observed arm with BCE on click and
on click ∧ conversion over all impressions, and scores every arm for uplift.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mlcore.batching import TensorTable
from modeling.nets.layers import FeatureEmbedding
from modeling.schema import FeatureSchema

__all__ = ["FeatureEmbedding", "GatedTower", "UpliftNet", "chain_loss"]


class GatedTower(nn.Module):
    """Linear → ReLU → Dropout layers ending in one logit; each hidden layer may be scaled by a gate.

    With ``gates=None`` it is a plain MLP tower (the baselines); ECUP passes one (B, H_l) gate per
    hidden layer, and the output layer is never gated (ECUP eq. 7).
    """

    def __init__(self, in_dim: int, hidden: list[int], dropout: float = 0.0):
        super().__init__()
        dims = [in_dim, *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(dims[-1], 1)
        self.dropout = nn.Dropout(dropout)
        self.widths = list(hidden)

    def forward(self, h: torch.Tensor, gates: list[torch.Tensor] | None = None) -> torch.Tensor:
        for i, layer in enumerate(self.hidden):
            h = F.relu(layer(h))  # (B, H_i)
            if gates is not None:
                h = h * gates[i]  # (B, H_i)
            h = self.dropout(h)
        return self.out(h).squeeze(-1)  # (B,)


def _log1mexp(log_p: torch.Tensor) -> torch.Tensor:
    """log(1 − exp(log_p)) for log_p < 0, stable near 0 and near −inf."""
    log_p = log_p.clamp(max=-1e-7)
    return torch.where(log_p > -0.693, torch.log(-torch.expm1(log_p)), torch.log1p(-torch.exp(log_p)))


def chain_loss(logit_ctr: torch.Tensor, logit_cvr: torch.Tensor, click: torch.Tensor,
               conversion: torch.Tensor) -> torch.Tensor:
    """BCE(p_ctr, click) + BCE(p_ctr·p_cvr, click ∧ conversion), both over all impressions (entire space)."""
    logit_ctr, logit_cvr = logit_ctr.float(), logit_cvr.float()
    ctr_loss = F.binary_cross_entropy_with_logits(logit_ctr, click)
    log_p = F.logsigmoid(logit_ctr) + F.logsigmoid(logit_cvr)  # log p_ctcvr, (B,)
    y = click * conversion
    ctcvr_loss = -(y * log_p + (1 - y) * _log1mexp(log_p)).mean()
    return ctr_loss + ctcvr_loss


class UpliftNet(nn.Module):
    """Base class: subclasses give logits for the observed arm or for every arm.

    Subclasses implement ``arm_logits(batch) -> (ctr, cvr)`` each (B, K+1) and may override
    ``forward`` when the observed arm is cheaper alone. ``uplift`` then scores every arm at once.
    """

    def __init__(self, schema: FeatureSchema, n_treatments: int):
        super().__init__()
        self.schema = schema
        self.n_arms = n_treatments + 1

    def arm_logits(self, batch: TensorTable) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, batch: TensorTable) -> dict[str, torch.Tensor]:
        """Click and conversion-given-click logits for each row's own arm, (B,) each."""
        ctr, cvr = self.arm_logits(batch)  # (B, K+1)
        t = batch["treatment"].unsqueeze(1)  # (B, 1)
        return {"logit_ctr": ctr.gather(1, t).squeeze(1), "logit_cvr": cvr.gather(1, t).squeeze(1)}

    def embedding_regularizer(self, batch: TensorTable) -> torch.Tensor:
        """Squared norms of the feature-embedding rows this batch used (the trainer's ``embedding_l2``)."""
        return sum(m.regularizer(batch) for m in self.modules() if isinstance(m, FeatureEmbedding))

    def loss(self, batch: TensorTable) -> torch.Tensor:
        out = self(batch)
        return chain_loss(out["logit_ctr"], out["logit_cvr"], batch["click"], batch["conversion"])

    def uplift(self, batch: TensorTable) -> dict[str, torch.Tensor]:
        """Per-arm p_ctr, p_ctcvr (B, K+1) and uplift against control (B, K+1), column 0 identically 0."""
        ctr, cvr = self.arm_logits(batch)  # (B, K+1)
        p_ctr = torch.sigmoid(ctr.float())  # (B, K+1)
        p_ctcvr = p_ctr * torch.sigmoid(cvr.float())  # (B, K+1)
        return {"p_ctr": p_ctr, "p_ctcvr": p_ctcvr,
                "uplift_ctr": p_ctr - p_ctr[:, :1], "uplift_ctcvr": p_ctcvr - p_ctcvr[:, :1]}


def repeat_over_arms(batch: TensorTable, n_arms: int) -> TensorTable:
    """The batch stacked K+1 times (arm-major), each copy assigned one arm: (B·(K+1), ...)."""
    size = len(batch["treatment"])
    out = {k: v.repeat(n_arms, *([1] * (v.dim() - 1))) for k, v in batch.items() if k in ("cat", "num")}
    out["treatment"] = torch.arange(n_arms, device=batch["treatment"].device).repeat_interleave(size)  # (B·(K+1),)
    return out


class TreatmentAsInputNet(UpliftNet):
    """For networks that take the arm as an input: all arms come from one forward over the repeated batch."""

    def observed_logits(self, batch: TensorTable) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, batch: TensorTable) -> dict[str, torch.Tensor]:
        ctr, cvr = self.observed_logits(batch)
        return {"logit_ctr": ctr, "logit_cvr": cvr}

    def arm_logits(self, batch: TensorTable) -> tuple[torch.Tensor, torch.Tensor]:
        size = len(batch["treatment"])
        ctr, cvr = self.observed_logits(repeat_over_arms(batch, self.n_arms))  # (B·(K+1),)
        return ctr.view(self.n_arms, size).t(), cvr.view(self.n_arms, size).t()  # (B, K+1)

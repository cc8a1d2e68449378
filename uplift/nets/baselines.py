"""Deep uplift baselines on the same building blocks as ECUP: S-learner, T-learner, TARNet, DragonNet.

All of them predict the click → conversion chain (p_ctcvr = p_ctr · p_cvr) and are trained on the
observed arm with the same loss as ECUP, so differences in the results come from the architecture.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mlcore.batching import TensorTable
from modeling.schema import FeatureSchema

from .ecup import ECUP
from .layers import FeatureEmbedding, GatedTower, UpliftNet, chain_loss


class SLearner(ECUP):
    """S-learner (Künzel et al., PNAS 2019) as one network: field embeddings plus the treatment
    embedding appended as a field, flattened into a click tower and a conversion tower.

    It is ECUP without TENet and ECENet, which makes it ECUP's ablation baseline. Its numeric field
    vectors keep the CTR embeddings' 0.01 start: ECUP's larger start counters TENet's attention
    offset, which this network does not have. Departure: the classic S-learner appends the raw
    treatment indicator; a learned embedding is used here.
    """

    def __init__(self, schema: FeatureSchema, n_treatments: int, embedding_dim: int = 16,
                 tower_hidden: tuple[int, ...] = (128, 128), dropout: float = 0.1):
        super().__init__(schema, n_treatments, embedding_dim=embedding_dim, tower_hidden=tower_hidden,
                         dropout=dropout, use_tenet=False, use_ecenet=False, numeric_embedding_std=1e-2)


class _ChainTowers(nn.Module):
    """Two towers (click, conversion-given-click) on one input."""

    def __init__(self, in_dim: int, hidden: list[int], dropout: float):
        super().__init__()
        self.ctr = GatedTower(in_dim, hidden, dropout)
        self.cvr = GatedTower(in_dim, hidden, dropout)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ctr(h), self.cvr(h)  # (B,) each


class TLearner(UpliftNet):
    """T-learner (two-model approach; Künzel et al., PNAS 2019): one independent network per arm,
    each with its own field embeddings and ECUP-style click and conversion towers.

    Training every arm's network on every batch and keeping only the observed arm's output is the
    same as training each on its own rows; departure: arms share one optimiser and one early stop.
    """

    def __init__(self, schema: FeatureSchema, n_treatments: int, embedding_dim: int = 16,
                 tower_hidden: tuple[int, ...] = (128, 128), dropout: float = 0.1):
        super().__init__(schema, n_treatments)
        self.embeddings = nn.ModuleList(FeatureEmbedding(schema, embedding_dim) for _ in range(self.n_arms))
        flat = self.embeddings[0].num_fields * embedding_dim
        self.heads = nn.ModuleList(_ChainTowers(flat, list(tower_hidden), dropout) for _ in range(self.n_arms))

    def arm_logits(self, batch: TensorTable) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [head(emb(batch).flatten(1)) for emb, head in zip(self.embeddings, self.heads)]  # (B,) pairs
        return torch.stack([o[0] for o in outs], 1), torch.stack([o[1] for o in outs], 1)  # (B, K+1)


class TARNet(UpliftNet):
    """TARNet (Shalit, Johansson & Sontag, ICML 2017): a shared representation Φ(x) of the field
    embeddings and one pair of click/conversion heads per arm.

    Departures: multi-arm (one head per arm instead of two), binary chain outcomes instead of a
    regression loss, and no IPM balancing term (that is CFRNet).
    """

    def __init__(self, schema: FeatureSchema, n_treatments: int, embedding_dim: int = 16,
                 representation_hidden: tuple[int, ...] = (128, 128), head_hidden: tuple[int, ...] = (64,),
                 dropout: float = 0.1):
        super().__init__(schema, n_treatments)
        self.embedding = FeatureEmbedding(schema, embedding_dim)
        dims = [self.embedding.num_fields * embedding_dim, *representation_hidden]
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ELU(), nn.Dropout(dropout)]
        self.representation = nn.Sequential(*layers)
        self.heads = nn.ModuleList(_ChainTowers(dims[-1], list(head_hidden), dropout) for _ in range(self.n_arms))

    def represent(self, batch: TensorTable) -> torch.Tensor:
        return self.representation(self.embedding(batch).flatten(1))  # (B, R)

    def heads_logits(self, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [head(phi) for head in self.heads]
        return torch.stack([o[0] for o in outs], 1), torch.stack([o[1] for o in outs], 1)  # (B, K+1)

    def arm_logits(self, batch: TensorTable) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads_logits(self.represent(batch))


class DragonNet(TARNet):
    """DragonNet (Shi, Blei & Veitch, NeurIPS 2019): TARNet plus a propensity head on Φ(x) trained
    with cross-entropy, so the representation keeps what predicts treatment.

    Departures: multi-arm softmax propensity instead of a sigmoid, binary chain outcome heads, and no
    targeted regularisation (the paper reports "Dragonnet" with and without it; this is without).
    ``propensity_weight`` is α in loss = outcome loss + α·CE(propensity).
    """

    def __init__(self, schema: FeatureSchema, n_treatments: int, embedding_dim: int = 16,
                 representation_hidden: tuple[int, ...] = (128, 128), head_hidden: tuple[int, ...] = (64,),
                 dropout: float = 0.1, propensity_weight: float = 1.0):
        super().__init__(schema, n_treatments, embedding_dim, representation_hidden, head_hidden, dropout)
        width = representation_hidden[-1] if representation_hidden else self.embedding.num_fields * embedding_dim
        self.propensity = nn.Linear(width, self.n_arms)
        self.propensity_weight = propensity_weight

    def forward(self, batch: TensorTable) -> dict[str, torch.Tensor]:
        phi = self.represent(batch)  # (B, R)
        ctr, cvr = self.heads_logits(phi)  # (B, K+1)
        t = batch["treatment"].unsqueeze(1)  # (B, 1)
        return {"logit_ctr": ctr.gather(1, t).squeeze(1), "logit_cvr": cvr.gather(1, t).squeeze(1),
                "logit_treatment": self.propensity(phi)}  # (B, K+1)

    def loss(self, batch: TensorTable) -> torch.Tensor:
        out = self(batch)
        outcome = chain_loss(out["logit_ctr"], out["logit_cvr"], batch["click"], batch["conversion"])
        return outcome + self.propensity_weight * F.cross_entropy(out["logit_treatment"].float(), batch["treatment"])

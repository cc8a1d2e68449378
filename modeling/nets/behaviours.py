"""Layers shared by the behaviour-sequence networks (DIN, QIN, TIN, AW-MoE).

Every sequence net reads the batch through :class:`BehaviourEmbedding`, which enforces the one
masking rule of this package: a padded position (``hist_mask`` False) is replaced by zeros before
any layer sees it, whatever id, time or multimodal vector the batch holds there, and every
attention gives it exactly zero weight. Padding therefore never changes an output.

Auxiliary losses: a net whose training objective has an extra term (AW-MoE's contrastive loss)
sets ``self.aux_loss`` to a scalar tensor during a training-mode ``forward`` and to ``None``
otherwise; the CTR pipeline adds it to the click loss. ``forward`` always returns logits ``(B,)``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from ..schema import FeatureSchema
from .layers import FeatureEmbedding


class Behaviours(NamedTuple):
    others: torch.Tensor  # (B, F_o * D) every field that is not an item-side field of the target
    target: torch.Tensor  # (B, D_i) the target item's vector
    hist: torch.Tensor  # (B, L, D_i) the behaviours' item vectors, zero at padded positions
    mask: torch.Tensor  # (B, L) bool, True at real behaviours


class BehaviourFields(nn.Module):
    """Embeddings of the per-behaviour fields (``schema.sequence.behaviour_fields``: the user's past
    feedback on each behaviour, its action type), each ``dim`` wide and summed, to be **added** to the
    behaviour's item vector. The target item has no such field (its feedback is what is predicted),
    so the target vector is unchanged and an attention can still compare it with every behaviour,
    while the behaviour vector now also says how the user responded to that item. Row 0 is padding.
    """

    def __init__(self, behaviour_fields: dict[str, int], dim: int):
        super().__init__()
        self.tables = nn.ModuleDict({name: nn.Embedding(size, dim, padding_idx=0)
                                     for name, size in behaviour_fields.items()})
        for table in self.tables.values():
            nn.init.normal_(table.weight, std=1e-2)
            with torch.no_grad():
                table.weight[0].zero_()

    def __len__(self) -> int:
        return len(self.tables)

    def forward(self, batch: dict[str, torch.Tensor], keep: slice = slice(None)) -> torch.Tensor | None:
        """Σ_f E_f[hist_f] over the behaviour fields → (B, L, dim), or ``None`` when there are none."""
        total = None
        mask = batch["hist_mask"][:, keep].bool()
        for name, table in self.tables.items():
            vectors = table(torch.where(mask, batch[f"hist_{name}"][:, keep], 0))  # padding reads row 0
            total = vectors if total is None else total + vectors
        return total


class BehaviourEmbedding(nn.Module):
    """Embeds the fields, the target item and its behaviour sequence with one set of tables.

    An item vector is the concatenation of the item-side fields that have a sequence
    (``schema.sequence.fields``, e.g. item id and category), each ``dim`` wide, plus a bias-free
    projection of the multimodal vector (``item_emb`` / ``hist_item_emb``) to ``dim`` when the
    schema declares one and ``use_multimodal`` is set. A behaviour shares its field's embedding
    table with the target. ``max_len`` keeps only the most recent ``max_len`` positions (the batch
    is left-padded, newest last). Behaviour fields (past feedback, action type; see
    :class:`BehaviourFields`) are added to each behaviour's item vector.
    """

    def __init__(self, schema: FeatureSchema, dim: int, use_multimodal: bool = True):
        super().__init__()
        if schema.sequence is None:
            raise ValueError("a behaviour-sequence network needs a schema with a sequence")
        seq = schema.sequence
        self.fields = FeatureEmbedding(schema, dim)
        self.hist_keys = [f"hist_{name}" for name in seq.fields]
        item_cols = [schema.field_index(field) for field in seq.fields.values()]
        other_cols = [i for i in range(schema.num_categorical + schema.num_numeric) if i not in item_cols]
        self.register_buffer("item_cols", torch.tensor(item_cols, dtype=torch.long), persistent=False)
        self.register_buffer("other_cols", torch.tensor(other_cols, dtype=torch.long), persistent=False)
        self.multimodal = (nn.Linear(seq.multimodal_dim, dim, bias=False)
                           if use_multimodal and seq.multimodal_dim else None)
        self.item_dim = dim * (len(item_cols) + (self.multimodal is not None))
        self.behaviour = BehaviourFields(seq.behaviour_fields, self.item_dim)
        self.others_dim = dim * len(other_cols)
        self.max_len = seq.max_len

    def forward(self, batch: dict[str, torch.Tensor], max_len: int | None = None) -> Behaviours:
        fields = self.fields(batch)  # (B, F, D)
        target = fields[:, self.item_cols].flatten(1)  # (B, n_item * D)
        others = fields[:, self.other_cols].flatten(1)  # (B, F_o * D)
        keep = slice(-max_len, None) if max_len else slice(None)
        mask = batch["hist_mask"][:, keep].bool()  # (B, L)
        offsets = self.fields.offsets[self.item_cols]
        hist = [self.fields.table(torch.where(mask, batch[key][:, keep], 0) + offsets[i])  # (B, L, D)
                for i, key in enumerate(self.hist_keys)]
        if self.multimodal is not None:
            target = torch.cat([target, self.multimodal(batch["item_emb"])], dim=1)
            mm = torch.where(mask.unsqueeze(-1), batch["hist_item_emb"][:, keep], 0)  # (B, L, D_mm)
            hist.append(self.multimodal(mm))
        hist = torch.cat(hist, dim=-1)  # (B, L, D_i)
        if len(self.behaviour):
            hist = hist + self.behaviour(batch, keep)
        hist = torch.where(mask.unsqueeze(-1), hist, 0)
        return Behaviours(others, target, hist, mask)

    def regularizer(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Squared embedding rows of the batch's fields (see ``FeatureEmbedding.regularizer``)."""
        return self.fields.regularizer(batch)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the real positions of ``scores`` (B, L); padded positions and empty rows get 0.

    A padded score is set to the dtype's minimum, so exp underflows to exactly 0 and extra padding
    leaves the weights bit-for-bit unchanged; an all-padding row stays finite (no NaN gradients).
    """
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.where(mask, torch.softmax(filled, dim=-1), 0)


def pool(weights: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
    """Σ_i w_i h_i: (B, L) weights over (B, L, D) behaviours → (B, D)."""
    return torch.einsum("bl,bld->bd", weights, hist)


class ActivationUnit(nn.Module):
    """DIN's activation unit: a_i = MLP([e_i; e_t; e_i − e_t; e_i ⊙ e_t]) → one score per behaviour.

    Departure from DIN: PReLU instead of Dice (Dice's BatchNorm would let padded positions move the
    batch statistics).
    """

    def __init__(self, item_dim: int, hidden_units: list[int] = (64, 32)):
        super().__init__()
        layers: list[nn.Module] = []
        width = 4 * item_dim
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.PReLU()]
            width = units
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, hist: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        t = target.unsqueeze(1).expand_as(hist)  # (B, L, D_i)
        return self.net(torch.cat([hist, t, hist - t, hist * t], dim=-1)).squeeze(-1)  # (B, L)


TIME_BUCKET_SCALE = 0.301  # ln(Δ) / 0.301: 1 s → 0, 1 h → 27, 1 day → 37 (the SUAN/HSTU bucketing)


def time_gap_bucket(gap_seconds: torch.Tensor, num_buckets: int) -> torch.Tensor:
    """floor(ln(max(Δ, 1)) / 0.301) clipped to [0, num_buckets]; no gradient flows through it."""
    gap = gap_seconds.detach().float().clamp(min=1.0)
    return (torch.log(gap) / TIME_BUCKET_SCALE).floor().clamp(0, num_buckets).long()


def recency_positions(mask: torch.Tensor) -> torch.Tensor:
    """Steps before the target: the newest real behaviour is 1, the one before it 2, padding 0.

    Counted from the mask, so it does not depend on how much padding a row carries.
    """
    m = mask.long()
    return m.flip(1).cumsum(1).flip(1) * m  # (B, L)


def scaled_dot(query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """⟨k_i, q⟩ / √d for (B, D) query and (B, L, D) keys → (B, L)."""
    return torch.einsum("bld,bd->bl", keys, query) / math.sqrt(query.shape[-1])

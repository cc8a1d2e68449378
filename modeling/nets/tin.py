"""TIN (Zhou et al., WWW 2024): target-aware temporal encoding, attention and representation."""
from __future__ import annotations

import torch
from torch import nn

from ..schema import FeatureSchema
from .behaviours import BehaviourEmbedding, masked_softmax, pool, recency_positions, scaled_dot, time_gap_bucket
from .layers import MLP

TEMPORAL_ENCODINGS = ("position+time", "position", "time", "none")


class TIN(nn.Module):
    """Temporal Interest Network: Zhou et al., "Temporal Interest Network for User Response
    Prediction", WWW 2024 (arXiv 2308.08487); reference code ``zhouxy1003/TIN``.

    * Target-aware temporal encoding: ẽ_i = e_i + p_i and ṽ = v + p_t, where p is a learned
      embedding of the behaviour's temporal relation to the target: its recency position (steps
      before the target, newest = 1, the target itself 0) and, when the batch has timestamps, the
      log bucket of the gap to the target's time (``time_gap_bucket``; the target has its own row).
    * Target-aware attention: α_i = softmax_i(⟨ẽ_i, ṽ⟩ / √d) over the real behaviours.
    * Target-aware representation: u = Σ_i α_i ẽ_i, and the MLP reads
      ``[other fields; u; ṽ; u ⊙ ṽ]`` (u ⊙ ṽ = Σ α_i (ẽ_i ⊙ ṽ), the paper's 4-way interaction term).

    ``embedding_dim``: field embedding size (an item vector concatenates the item-side fields);
    ``hidden_units``/``dropout``/``batch_norm``: the MLP (code: 80-40); ``temporal_encoding``: one
    of ``position+time`` (time is skipped when the data has no timestamps), ``position``, ``time``,
    ``none``; ``num_time_buckets``: last log bucket (64 ≈ 200 years in seconds); ``max_len``: the
    most recent behaviours used (positions beyond it share the last position row);
    ``project_interest``: put a linear layer on u before the product, as the reference code does
    (``Dense(BN(Σ α ẽ))``).

    Departures (the time-gap encoding is the spec's suggested alternative, not the paper's code):
    ReLU instead of sigmoid in the MLP; no per-item scalar bias (the item id is among the MLP's
    inputs); the reference code's never-updated BatchNorm on u is left out.
    """

    def __init__(self, schema: FeatureSchema, embedding_dim: int = 16, hidden_units: list[int] = (80, 40),
                 dropout: float = 0.0, batch_norm: bool = False, temporal_encoding: str = "position+time",
                 num_time_buckets: int = 64, max_len: int | None = None, project_interest: bool = False):
        super().__init__()
        if temporal_encoding not in TEMPORAL_ENCODINGS:
            raise ValueError(f"temporal_encoding must be one of {TEMPORAL_ENCODINGS}")
        self.embedding = BehaviourEmbedding(schema, embedding_dim)
        d_item = self.embedding.item_dim
        self.max_len = max_len
        longest = max_len or schema.sequence.max_len
        self.positions = nn.Embedding(longest + 1, d_item) if "position" in temporal_encoding else None
        use_time = "time" in temporal_encoding and schema.sequence.has_time
        self.num_time_buckets = num_time_buckets
        self.time_buckets = nn.Embedding(num_time_buckets + 2, d_item) if use_time else None  # row 0: the target
        for table in (self.positions, self.time_buckets):
            if table is not None:
                nn.init.normal_(table.weight, std=1e-2)
        self.project = nn.Linear(d_item, d_item) if project_interest else nn.Identity()
        self.mlp = MLP(self.embedding.others_dim + 3 * d_item, list(hidden_units), dropout, batch_norm)

    def temporal(self, batch: dict[str, torch.Tensor], mask: torch.Tensor, d_item: int):
        """Temporal embeddings of the behaviours (B, L, D_i) and of the target (B, D_i)."""
        b, length = mask.shape
        p_hist = torch.zeros(b, length, d_item, device=mask.device)
        p_target = torch.zeros(b, d_item, device=mask.device)
        if self.positions is not None:
            pos = recency_positions(mask).clamp(max=self.positions.num_embeddings - 1)  # (B, L)
            p_hist = p_hist + self.positions(pos)
            p_target = p_target + self.positions.weight[0]
        if self.time_buckets is not None:
            keep = slice(-length, None)
            gap = (batch["target_time"].unsqueeze(1) - batch["hist_time"][:, keep]).clamp(min=0)  # (B, L)
            bucket = torch.where(mask, 1 + time_gap_bucket(gap, self.num_time_buckets), 0)
            p_hist = p_hist + self.time_buckets(bucket)
            p_target = p_target + self.time_buckets.weight[0]
        return torch.where(mask.unsqueeze(-1), p_hist, 0), p_target

    def representation(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(others, [u; ṽ; u ⊙ ṽ], α)``: the MLP's inputs and the attention weights."""
        others, target, hist, mask = self.embedding(batch, self.max_len)
        p_hist, p_target = self.temporal(batch, mask, hist.shape[-1])
        e = hist + p_hist  # (B, L, D_i)
        v = target + p_target  # (B, D_i)
        alpha = masked_softmax(scaled_dot(v, e), mask)  # (B, L)
        u = self.project(pool(alpha, e))  # (B, D_i)
        return others, torch.cat([u, v, u * v], dim=1), alpha

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        others, rep, _ = self.representation(batch)
        return self.mlp(torch.cat([others, rep], dim=1)).squeeze(-1)  # (B,)

    def embedding_regularizer(self, batch):
        return self.embedding.regularizer(batch)

"""Building blocks shared by the CTR networks."""
from __future__ import annotations

import torch
from torch import nn

from ..schema import FeatureSchema


class FeatureEmbedding(nn.Module):
    """One embedding row per categorical value (one table with per-field offsets) and one learned
    vector per numeric field scaled by its value, giving ``(B, F_cat + F_num, D)``."""

    def __init__(self, schema: FeatureSchema, dim: int):
        super().__init__()
        sizes = [f.vocab_size for f in schema.categorical]
        self.register_buffer("offsets", torch.tensor([0] + sizes[:-1], dtype=torch.long).cumsum(0), persistent=False)
        self.table = nn.Embedding(max(sum(sizes), 1), dim)
        self.numeric = nn.Parameter(torch.empty(schema.num_numeric, dim))
        nn.init.normal_(self.table.weight, std=1e-2)
        nn.init.normal_(self.numeric, std=1e-2)
        self.num_fields = len(sizes) + schema.num_numeric

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        if self.offsets.numel():
            parts.append(self.table(batch["cat"] + self.offsets))  # (B, F_cat, D)
        if self.numeric.shape[0]:
            parts.append(batch["num"].unsqueeze(-1) * self.numeric)  # (B, F_num, D)
        return torch.cat(parts, dim=1)  # (B, F, D)

    def regularizer(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum of squared embedding rows the batch used (plus the numeric field vectors): only the
        rows a batch touches are shrunk, as in FuxiCTR's per-batch embedding regulariser."""
        total = self.numeric.pow(2).sum()
        if self.offsets.numel():
            total = total + self.table(batch["cat"] + self.offsets).pow(2).sum()  # (B, F_cat, D) -> ()
        return total


class MLP(nn.Module):
    """Linear → (BatchNorm) → ReLU → Dropout blocks; ``out_dim`` adds a final linear layer."""

    def __init__(self, in_dim: int, hidden: list[int], dropout: float = 0.0, batch_norm: bool = False,
                 out_dim: int | None = 1):
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers.append(nn.Linear(in_dim, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers += [nn.ReLU(), nn.Dropout(dropout)]
            in_dim = width
        if out_dim:
            layers.append(nn.Linear(in_dim, out_dim))
        self.net = nn.Sequential(*layers)
        self.out_features = out_dim or in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

"""DCN-V2 (Wang et al., WWW 2021): full-rank cross layers x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l with a deep tower."""
from __future__ import annotations

import torch
from torch import nn

from ..schema import FeatureSchema
from .layers import MLP, FeatureEmbedding


class CrossNetwork(nn.Module):
    """Stacked full-rank cross layers (DCN-V2 eq. 1); the low-rank mixture variant is not built."""

    def __init__(self, dim: int, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_layers))

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x  # (B, F*D)
        return x


class DCNv2(nn.Module):
    """DCN-V2: Wang et al., "DCN V2: Improved Deep & Cross Network and Practical Lessons for
    Web-scale Learning to Rank Systems", WWW 2021.

    ``embedding_dim``: size of every field embedding; ``cross_layers``: number of full-rank cross
    layers; ``hidden_units``/``dropout``/``batch_norm``: the deep tower; ``structure``: "parallel"
    (cross and deep side by side, outputs concatenated) or "stacked" (deep tower on the cross output).

    Departures: numeric fields enter ``x0`` as a learned field vector scaled by the normalised value
    (the same ``FeatureEmbedding`` as DeepFM) rather than as raw dense values, so every field has
    width ``embedding_dim``; no low-rank / mixture-of-experts cross (DCN-Mix), which the paper
    offers for serving cost, not accuracy.
    """

    def __init__(self, schema: FeatureSchema, embedding_dim: int = 16, cross_layers: int = 3,
                 hidden_units: list[int] = (400, 400, 400), dropout: float = 0.0, batch_norm: bool = False,
                 structure: str = "parallel"):
        super().__init__()
        self.embedding = FeatureEmbedding(schema, embedding_dim)
        dim = self.embedding.num_fields * embedding_dim
        self.cross = CrossNetwork(dim, cross_layers)
        self.structure = structure
        self.deep = MLP(dim, list(hidden_units), dropout, batch_norm, out_dim=None)
        head_in = self.deep.out_features + (dim if structure == "parallel" else 0)
        self.head = nn.Linear(head_in, 1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x0 = self.embedding(batch).flatten(1)  # (B, F*D)
        if self.structure == "stacked":
            h = self.deep(self.cross(x0))
        else:
            h = torch.cat([self.cross(x0), self.deep(x0)], dim=1)
        return self.head(h).squeeze(-1)  # (B,)

    def embedding_regularizer(self, batch):
        return self.embedding.regularizer(batch)

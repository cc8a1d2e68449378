"""Logistic regression: the trivial-but-honest baseline every CTR model must beat."""
from __future__ import annotations

import torch
from torch import nn

from ..schema import FeatureSchema
from .layers import FeatureEmbedding


class LR(nn.Module):
    """A bias plus one learned weight per categorical value and per numeric field."""

    def __init__(self, schema: FeatureSchema):
        super().__init__()
        self.weights = FeatureEmbedding(schema, 1)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.weights(batch).sum(dim=(1, 2)) + self.bias  # (B,)

    def embedding_regularizer(self, batch):
        return self.weights.regularizer(batch)

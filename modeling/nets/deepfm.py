"""DeepFM (Guo et al., IJCAI 2017): a factorisation machine and an MLP sharing one embedding."""
from __future__ import annotations

import torch
from torch import nn

from ..schema import FeatureSchema
from .layers import MLP, FeatureEmbedding
from .lr import LR


class DeepFM(nn.Module):
    """DeepFM: Guo et al., "DeepFM: A Factorization-Machine based Neural Network for CTR
    Prediction", IJCAI 2017. logit = LR(x) + FM second order over field embeddings + MLP(flattened
    embeddings); ``embedding_dim``, ``hidden_units`` (paper: 400-400-400), ``dropout`` and
    ``batch_norm`` configure the shared embedding and the MLP.

    Numeric fields enter as their learned field vector scaled by the normalised value (as in the
    paper's treatment of continuous fields), in both the FM and the MLP; the first-order part is a
    separate ``LR`` (one weight per category, one per numeric field). Departure: the paper's
    dropout 0.5 default is 0 here (FuxiCTR's tuned Criteo setting).
    """

    def __init__(self, schema: FeatureSchema, embedding_dim: int = 16, hidden_units: list[int] = (400, 400, 400),
                 dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        self.embedding = FeatureEmbedding(schema, embedding_dim)
        self.lr = LR(schema)
        self.mlp = MLP(self.embedding.num_fields * embedding_dim, list(hidden_units), dropout, batch_norm)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        e = self.embedding(batch)  # (B, F, D)
        fm = 0.5 * (e.sum(dim=1).pow(2) - e.pow(2).sum(dim=1)).sum(dim=1)  # (B,)
        deep = self.mlp(e.flatten(1)).squeeze(-1)  # (B,)
        return self.lr(batch) + fm + deep

    def embedding_regularizer(self, batch):
        return self.embedding.regularizer(batch)

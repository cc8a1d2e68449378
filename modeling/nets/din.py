"""DIN (Zhou et al., KDD 2018): target attention over the behaviour sequence, then an MLP."""
from __future__ import annotations

import torch
from torch import nn

from ..schema import FeatureSchema
from .behaviours import ActivationUnit, BehaviourEmbedding, masked_softmax, pool
from .layers import MLP


class DIN(nn.Module):
    """Deep Interest Network: Zhou et al., "Deep Interest Network for Click-Through Rate
    Prediction", KDD 2018.

    The activation unit scores each behaviour against the target item; the user interest is the
    score-weighted sum of behaviours, and the MLP sees ``[other fields; target item; interest]``.

    ``embedding_dim``: size of each field embedding (an item vector concatenates the item-side
    fields that have a sequence); ``attention_units``: hidden widths of the activation unit;
    ``hidden_units``/``dropout``/``batch_norm``: the MLP (paper: 200-80); ``use_softmax``: normalise
    the scores over the real behaviours (FuxiCTR's ``din_use_softmax``) instead of the paper's raw
    weights; ``max_len``: attend to the most recent ``max_len`` behaviours only (``None``: all).

    Departures: PReLU in the activation unit and ReLU in the MLP instead of Dice; no mini-batch
    aware regularisation (the trainer's per-batch embedding L2 plays that role).
    """

    def __init__(self, schema: FeatureSchema, embedding_dim: int = 16, attention_units: list[int] = (64, 32),
                 hidden_units: list[int] = (200, 80), dropout: float = 0.0, batch_norm: bool = False,
                 use_softmax: bool = False, max_len: int | None = None):
        super().__init__()
        self.embedding = BehaviourEmbedding(schema, embedding_dim)
        d_item = self.embedding.item_dim
        self.attention = ActivationUnit(d_item, list(attention_units))
        self.mlp = MLP(self.embedding.others_dim + 2 * d_item, list(hidden_units), dropout, batch_norm)
        self.use_softmax = use_softmax
        self.max_len = max_len

    def attention_weights(self, hist: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.attention(hist, target)  # (B, L)
        return masked_softmax(scores, mask) if self.use_softmax else torch.where(mask, scores, 0)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        others, target, hist, mask = self.embedding(batch, self.max_len)
        interest = pool(self.attention_weights(hist, target, mask), hist)  # (B, D_i)
        return self.mlp(torch.cat([others, target, interest], dim=1)).squeeze(-1)  # (B,)

    def embedding_regularizer(self, batch):
        return self.embedding.regularizer(batch)

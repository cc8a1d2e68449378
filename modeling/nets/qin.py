"""QIN (Li et al., WWW 2025 MM-CTR challenge): ReLU-sparse target attention and a quadratic network."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..schema import FeatureSchema
from .behaviours import BehaviourEmbedding


class SparseTargetAttention(nn.Module):
    """QIN's adaptive sparse target attention (ASTA), single head.

    s = (W_q x_t)(W_k X_b)ᵀ / √d_a, masked by multiplication; a = ReLU(s), so a behaviour with a
    negative score gets exactly zero weight and the weights are not normalised;
    o = W_o (a · W_v X_b) + x_t (residual to the target). All projections are bias-free.
    """

    def __init__(self, item_dim: int, attention_dim: int | None = None):
        super().__init__()
        d_a = attention_dim or 2 * item_dim
        self.query = nn.Linear(item_dim, d_a, bias=False)
        self.key = nn.Linear(item_dim, d_a, bias=False)
        self.value = nn.Linear(item_dim, d_a, bias=False)
        self.out = nn.Linear(d_a, item_dim, bias=False)
        self.scale = 1.0 / math.sqrt(d_a)

    def weights(self, hist: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = torch.einsum("bld,bd->bl", self.key(hist), self.query(target)) * self.scale  # (B, L)
        return torch.relu(scores * mask)  # exactly 0 for negative scores and padding

    def forward(self, hist: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a = self.weights(hist, target, mask)  # (B, L)
        return self.out(torch.einsum("bl,bld->bd", a, self.value(hist))) + target  # (B, D_i)


class QuadraticLayer(nn.Module):
    """One QNN layer: z = x ⊙ Σ_r (W_r x + b_r), then BatchNorm → PReLU → dropout, plus x.

    The R row maps are one ``Linear(W → R·W)``; dropout is applied to its output (per row), as in
    the reference code.
    """

    def __init__(self, width: int, num_row: int = 3, dropout: float = 0.1, batch_norm: bool = True):
        super().__init__()
        self.linear = nn.Linear(width, width * num_row)
        self.num_row = num_row
        self.norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        self.act = nn.PReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.dropout(self.linear(x)).view(x.shape[0], self.num_row, -1)  # (B, R, W)
        z = x * u.sum(dim=1)  # (B, W)
        return self.dropout(self.act(self.norm(z))) + x


class QIN(nn.Module):
    """Quadratic Interest Network: Li et al., "Quadratic Interest Network for Multimodal
    Click-Through Rate Prediction", WWW 2025 EReL@MIR challenge (arXiv 2504.17699); reference code
    ``salmon1802/QIN`` (``QIN_variety_v9``).

    h₀ = [other fields; target item x_t; ASTA(X_b, x_t)] goes through ``num_layers`` quadratic
    layers of constant width and a linear head. Item vectors concatenate the item-side field
    embeddings and, when the batch has ``item_emb``/``hist_item_emb``, a bias-free projection of the
    multimodal vector (the paper's BERT+CLIP item embedding).

    ``embedding_dim``: field embedding size (paper 128); ``num_layers``: QNN depth (4);
    ``num_row``: R, the number of summed row maps (3: the README's stable choice, the final config
    used 4); ``dropout`` (0.1) and ``batch_norm`` (True) inside the QNN; ``max_len``: attend to the
    last ``max_len`` behaviours (64); ``attention_dim``: ASTA width d_a (``None``: 2 × item width).

    ``embedding_table_l2``: the reference's ``embedding_regularizer`` (2e-4): (λ/2)·‖W‖² over every
    parameter of the embedding module (whole tables and the multimodal projection, not only the
    rows a batch uses), added in training as ``aux_loss`` (see ``modeling.pipeline.ctr_loss``).

    Departures: the reference's item tag-list field is whatever extra item-side sequences the
    dataset has (e.g. category); embeddings use this package's N(0, 0.01) init, not N(0, 1e-4).
    The learning rate halves on every epoch without validation gain (the job's ``lr_decay`` 0.5,
    applied by ``mlcore.trainer.fit``), but early stopping defaults to a patience of 2 epochs,
    not the reference's 8, so a default run sees at most one halving before it stops.
    """

    def __init__(self, schema: FeatureSchema, embedding_dim: int = 16, num_layers: int = 4, num_row: int = 3,
                 dropout: float = 0.1, batch_norm: bool = True, max_len: int | None = 64,
                 attention_dim: int | None = None, embedding_table_l2: float = 2e-4):
        super().__init__()
        self.embedding_table_l2 = embedding_table_l2
        self.aux_loss: torch.Tensor | None = None
        self.embedding = BehaviourEmbedding(schema, embedding_dim, use_multimodal=True)
        d_item = self.embedding.item_dim
        self.attention = SparseTargetAttention(d_item, attention_dim)
        width = self.embedding.others_dim + 2 * d_item
        self.qnn = nn.Sequential(*(QuadraticLayer(width, num_row, dropout, batch_norm) for _ in range(num_layers)))
        self.head = nn.Linear(width, 1)
        self.max_len = max_len

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        others, target, hist, mask = self.embedding(batch, self.max_len)
        interest = self.attention(hist, target, mask)  # (B, D_i)
        h = torch.cat([others, target, interest], dim=1)  # (B, W)
        self.aux_loss = None
        if self.training and self.embedding_table_l2:
            squares = sum(w.pow(2).sum() for w in self.embedding.parameters())
            self.aux_loss = 0.5 * self.embedding_table_l2 * squares
        return self.head(self.qnn(h)).squeeze(-1)  # (B,)

    def embedding_regularizer(self, batch):
        return self.embedding.regularizer(batch)

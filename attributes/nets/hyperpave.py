"""HyperPAVE: hypergraph relation learning + inductive link prediction for attribute values."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import HypergraphConv

from attributes.hypergraph import AttributeHypergraph

RELATIONS = ("in", "rev_in", "has", "rev_has")
NODE_TYPES = ("product", "category", "aspect")


class HeteroSAGELayer(nn.Module):
    """GraphSAGE with one neighbour weight per relation, summed across relations.

    ``h'_v = W_root h_v + sum_r mean_{u in N_r(v)} W_r h_u``. The root term is what gives a node
    with no edges of a relation (a new product, an unseen value) an embedding of its own.
    """

    def __init__(self, dim: int, relations: Sequence[str] = RELATIONS):
        super().__init__()
        self.root = nn.Linear(dim, dim)
        self.neighbour = nn.ModuleDict({r: nn.Linear(dim, dim, bias=False) for r in relations})

    def forward(self, x: torch.Tensor, relations: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.root(x)  # (N, d)
        for name, edges in relations.items():
            if name not in self.neighbour or edges.shape[1] == 0:
                continue
            src, dst = edges[0], edges[1]
            messages = self.neighbour[name](x)[src]  # (E, d)
            summed = torch.zeros_like(out).index_add_(0, dst, messages)  # (N, d)
            degree = torch.bincount(dst, minlength=x.shape[0]).clamp(min=1)  # (N,)
            out = out + summed / degree.unsqueeze(1).to(out.dtype)
        return out


def center_per_type(h: torch.Tensor, node_type: torch.Tensor) -> torch.Tensor:
    """Subtract from each node the mean embedding of its node type (PairNorm's centring step).

    Every linear layer adds a bias shared by all nodes, and the message of a category is the same
    vector for all its products, while PyTorch's default initialisation shrinks the node-specific
    part at each layer. Without centring, untrained product embeddings of the planted catalogue in
    ``tests/attributes/test_learnability.py`` had a mean pairwise cosine of 0.96 (their text
    features 0.15), so the cosine link head saw nearly the same vector for every product.
    Zhao & Akoglu, "PairNorm: Tackling Oversmoothing in GNNs", ICLR 2020.
    """
    counts = torch.bincount(node_type, minlength=len(NODE_TYPES)).clamp(min=1)  # (3,)
    sums = torch.zeros(len(NODE_TYPES), h.shape[1], dtype=h.dtype, device=h.device)
    means = sums.index_add_(0, node_type, h) / counts.unsqueeze(1).to(h.dtype)  # (3, d)
    return h - means[node_type]  # (N, d)


class HyperPAVE(nn.Module):
    """Multi-label zero-shot attribute-value extraction as product-aspect link prediction.

    Gong & Eldardiry, "Multi-Label Zero-Shot Product Attribute-Value Extraction", WWW 2024
    (arXiv 2402.08802). Products, categories and aspects ("attribute is value") are nodes with
    text features; a hypergraph convolution runs over each hyperedge type, the types are fused,
    a two-layer heterogeneous GraphSAGE follows, and a link head scores (product, aspect) pairs.

    Args:
        text_dim: width of the frozen text features (384 for MiniLM).
        edge_types: the hyperedge types of the graph, in a fixed order (``pa``, ``cpa``, ...).
        hidden_dim: node embedding width (the paper's code uses 768, the BERT width).
        dropout: applied after fusion and between the SAGE layers.
        temperature: initial scale of the cosine link score.
        center: centre the node embeddings per node type (:func:`center_per_type`), off by
            default; see the departures below.

    Departures from the paper and its code:
        - Frozen sentence embeddings (MiniLM or TF-IDF-SVD) plus a per-node-type linear
          projection instead of fine-tuned BERT, and a category-name template instead of GPT-2
          generated category descriptions (CPU budget; no hub access).
        - Fusion across hyperedge types is a learned softmax per node type (``mix_logits``)
          instead of the fixed 0.4/0.4/0.1/0.1 and 1/2-1/2 weights.
        - Each hypergraph convolution has a residual (``Z_t = H + HConv(H)``); the single conv is
          shared by all types as in the released code.
        - The link head is ``tau * cos(h_p, h_a) + s * text_sim(p, a) + b`` instead of a dot
          product: cosine keeps unseen aspects on the same scale as seen ones, and the frozen
          text similarity keeps a signal for values that never had a training link.
        - ``center=True`` (not in the paper) centres the node embeddings per node type
          (:func:`center_per_type`) after the fusion and after each SAGE layer, so the biases and
          the category message every product shares do not drown its own features. Measured on
          validation products, HyperPAVERanker defaults, zero-shot split seed 0 unless noted:
          planted catalogue of ``tests/attributes/test_learnability.py`` (inductive, 60 epochs,
          hidden 32), link-only Material mAP 0.515 -> 0.896 (random 0.517); OA-Mine mAP
          0.350 -> 0.401 (seed 1: 0.373 -> 0.434); AE-110K mAP 0.495 -> 0.436 (unseen values
          0.419 -> 0.376; seed 1: 0.614 -> 0.482). It helps
          where the values are implied by product features and hurts on AE-110K, so it is off
          by default: the paper's architecture, and a choice each job can make on validation.
        - Full-batch training (no neighbour sampler) and node-level masking; see
          :mod:`attributes.training`.
    """

    def __init__(self, text_dim: int, edge_types: Sequence[str], hidden_dim: int = 128,
                 dropout: float = 0.2, temperature: float = 10.0, center: bool = False):
        super().__init__()
        self.edge_types = tuple(edge_types)
        self.center = center
        self.project = nn.ModuleList([nn.Linear(text_dim, hidden_dim) for _ in NODE_TYPES])
        self.conv = HypergraphConv(hidden_dim, hidden_dim)
        self.mix_logits = nn.Parameter(torch.zeros(len(NODE_TYPES), len(self.edge_types)))
        self.sage = nn.ModuleList([HeteroSAGELayer(hidden_dim), HeteroSAGELayer(hidden_dim)])
        self.dropout = nn.Dropout(dropout)
        self.link_scale = nn.Parameter(torch.tensor(float(temperature)))
        self.text_scale = nn.Parameter(torch.tensor(float(temperature)))
        self.link_bias = nn.Parameter(torch.tensor(-float(temperature) / 2))

    def mixing_weights(self) -> torch.Tensor:
        """``(3, T)`` convex weights of the hyperedge types for products, categories, aspects."""
        return torch.softmax(self.mix_logits, dim=1)

    def forward(self, x: torch.Tensor, graph: AttributeHypergraph) -> torch.Tensor:
        """Node embeddings ``(N, hidden_dim)``; ``x`` is ``(N, text_dim)`` in graph node order."""
        counts = torch.bincount(graph.node_type, minlength=len(NODE_TYPES)).tolist()
        parts = torch.split(x, counts)  # node types are contiguous ranges
        h = torch.cat([proj(part) for proj, part in zip(self.project, parts)])  # (N, d)
        per_type = torch.stack([
            h + self.conv(h, graph.hyperedge_index(t), num_edges=graph.incidence[t].shape[1])
            for t in self.edge_types
        ], dim=1)  # (N, T, d)
        weights = self.mixing_weights()[graph.node_type]  # (N, T)
        h = self.dropout((weights.unsqueeze(2) * per_type).sum(dim=1))  # (N, d)
        h = self._centred(h, graph)
        h = self._centred(torch.relu(self.sage[0](h, graph.relations)), graph)  # (N, d)
        return self._centred(self.sage[1](self.dropout(h), graph.relations), graph)  # (N, d)

    def _centred(self, h: torch.Tensor, graph: AttributeHypergraph) -> torch.Tensor:
        return center_per_type(h, graph.node_type) if self.center else h

    def pair_logits(self, h: torch.Tensor, product_nodes: torch.Tensor,
                    aspect_nodes: torch.Tensor, text_sim: torch.Tensor) -> torch.Tensor:
        """Link logits ``(E,)`` for the pairs (``product_nodes[i]``, ``aspect_nodes[i]``)."""
        cos = F.cosine_similarity(h[product_nodes], h[aspect_nodes], dim=1)  # (E,)
        return self.link_scale * cos + self.text_scale * text_sim + self.link_bias

    def link_cosine(self, h: torch.Tensor, product_nodes: torch.Tensor,
                    aspect_nodes: torch.Tensor) -> torch.Tensor:
        """Cosine of every product against every aspect, ``(n_products, n_aspects)``."""
        hp = F.normalize(h[product_nodes], dim=1)  # (n, d)
        ha = F.normalize(h[aspect_nodes], dim=1)  # (A, d)
        return hp @ ha.T  # (n, A)

"""AW-MoE (Gong et al., JD, 2023): an attention-weighted gate over expert towers, with a
contrastive loss between the gates of a user's full and randomly masked behaviour sequence."""
from __future__ import annotations

import torch
from torch import nn

from ..schema import FeatureSchema
from .behaviours import ActivationUnit, BehaviourEmbedding, masked_softmax, pool
from .layers import MLP


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE over the batch with cosine similarity: row i of ``a`` should match row i of ``b``.

    L = −(1/B) Σ_i log[ exp(cos(a_i, b_i)/τ) / Σ_j exp(cos(a_i, b_j)/τ) ].
    """
    a = nn.functional.normalize(a, dim=-1)
    b = nn.functional.normalize(b, dim=-1)
    logits = a @ b.T / temperature  # (B, B)
    return nn.functional.cross_entropy(logits, torch.arange(len(a), device=a.device))


def drop_behaviours(mask: torch.Tensor, prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random view of ``mask`` (B, L): each real behaviour is dropped with probability ``prob``;
    a row that had behaviours keeps at least its newest one (a simulated long-tail user)."""
    keep = mask & (torch.rand(mask.shape, generator=generator, device=mask.device) >= prob)
    newest = mask.shape[1] - 1 - mask.flip(1).int().argmax(dim=1)  # (B,) last real position
    emptied = mask.any(dim=1) & ~keep.any(dim=1)
    keep[emptied, newest[emptied]] = True
    return keep


class AWMoE(nn.Module):
    """Attention Weighted Mixture of Experts: Gong et al., "AW-MoE: Attention Weighted Mixture of
    Experts with Contrastive Learning for Personalized Ranking in E-commerce", 2023 (arXiv
    2306.05011). No code was released and only the abstract could be read, so this follows the
    spec's reconstruction; every choice below is a documented guess.

    * Activation unit (DIN-style): a_i = MLP([e_i; e_t; e_i − e_t; e_i ⊙ e_t]), masked, softmax-ed
      over the real behaviours when ``use_softmax`` (else raw, as DIN).
    * Gate unit: g_i = MLP([e_i; x_q]) ∈ ℝ^K, one score per expert for each behaviour. x_q is the
      embedding of the search query (``query_field``, a categorical column such as the query id or
      its category), as the spec's search variant has it; without a query field (recommendation)
      g_i = MLP(e_i).
    * Gate: G = softmax_K(b + W_q x_q + Σ_i a_i g_i); the learned bias b (plus the linear query term
      when there is a query) is the gate of a user with no behaviours. The spec leaves that fallback
      open ("a learned default gate, or a gate computed from x_o"); the query term is our choice, so
      that a search with no history still routes by its query. The activation unit does not read
      the query (the spec's a_i compares behaviour and target only), and the query embedding also
      stays among the other fields the experts read.
    * Experts: K MLP towers on h = [other fields; e_t; Σ_i a_i e_i]; logit = Σ_k G_k E_k(h).
    * Contrastive task (training only, when ``contrastive_weight`` > 0): drop each behaviour with
      probability ``mask_prob`` (keeping at least one), recompute the gate G′, and add
      ``contrastive_weight`` × InfoNCE(G, G′; ``temperature``) as ``aux_loss``.

    ``embedding_dim``: field embedding size; ``num_experts``: K; ``expert_units``: hidden widths of
    each expert; ``attention_units``/``gate_units``: hidden widths of the activation and gate
    units; ``dropout``/``batch_norm``: inside the experts; ``max_len``: most recent behaviours used;
    ``query_field``: the categorical field holding the search query, or ``None``.
    """

    def __init__(self, schema: FeatureSchema, embedding_dim: int = 16, num_experts: int = 4,
                 expert_units: list[int] = (128, 64), attention_units: list[int] = (64, 32),
                 gate_units: list[int] = (64,), dropout: float = 0.0, batch_norm: bool = False,
                 use_softmax: bool = True, mask_prob: float = 0.3, contrastive_weight: float = 0.05,
                 temperature: float = 0.2, max_len: int | None = None, query_field: str | None = None):
        super().__init__()
        self.embedding = BehaviourEmbedding(schema, embedding_dim)
        d_item = self.embedding.item_dim
        self.activation = ActivationUnit(d_item, list(attention_units))
        self.query_column = None
        if query_field:
            if query_field not in {f.name for f in schema.categorical}:
                raise ValueError(f"query_field {query_field!r} is not a categorical field of this dataset; "
                                 f"categorical fields: {[f.name for f in schema.categorical]}")
            self.query_column = schema.field_index(query_field)
        d_query = embedding_dim if self.query_column is not None else 0
        self.gate_unit = MLP(d_item + d_query, list(gate_units), out_dim=num_experts)
        self.query_gate = nn.Linear(d_query, num_experts, bias=False) if d_query else None
        self.default_gate = nn.Parameter(torch.zeros(num_experts))
        in_dim = self.embedding.others_dim + 2 * d_item
        self.experts = nn.ModuleList(MLP(in_dim, list(expert_units), dropout, batch_norm) for _ in range(num_experts))
        self.use_softmax = use_softmax
        self.mask_prob = mask_prob
        self.contrastive_weight = contrastive_weight
        self.temperature = temperature
        self.max_len = max_len
        self.aux_loss: torch.Tensor | None = None

    def query(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The search query's embedding x_q (B, d), or ``None`` without a query field."""
        if self.query_column is None:
            return None
        fields = self.embedding.fields
        return fields.table(batch["cat"][:, self.query_column] + fields.offsets[self.query_column])

    def gate(self, hist: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
             query: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Expert weights G (B, K) and the behaviours' activation weights (B, L)."""
        scores = self.activation(hist, target)  # (B, L)
        weights = masked_softmax(scores, mask) if self.use_softmax else torch.where(mask, scores, 0)
        logits = self.default_gate.expand(len(hist), -1)  # (B, K)
        if query is not None:
            hist = torch.cat([hist, query.unsqueeze(1).expand(-1, hist.shape[1], -1)], dim=-1)  # (B, L, D_i + d)
            logits = logits + self.query_gate(query)
        per_behaviour = self.gate_unit(hist)  # (B, L, K)
        logits = logits + torch.einsum("bl,blk->bk", weights, per_behaviour)  # (B, K)
        return torch.softmax(logits, dim=-1), weights

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        others, target, hist, mask = self.embedding(batch, self.max_len)
        query = self.query(batch)
        gate, weights = self.gate(hist, target, mask, query)  # (B, K), (B, L)
        h = torch.cat([others, target, pool(weights, hist)], dim=1)
        experts = torch.cat([expert(h) for expert in self.experts], dim=1)  # (B, K)
        self.aux_loss = None
        if self.training and self.contrastive_weight > 0 and len(mask) > 1:
            masked_gate, _ = self.gate(hist, target, drop_behaviours(mask, self.mask_prob), query)
            self.aux_loss = self.contrastive_weight * info_nce(gate, masked_gate, self.temperature)
        return (gate * experts).sum(dim=1)  # (B,)

    @torch.no_grad()
    def diagnostics(self, batch: dict[str, torch.Tensor]) -> dict:
        """Gate health on ``batch``: mean gate entropy as a share of log K (0 = every row uses one
        expert, 1 = uniform) and each expert's mean weight; a collapsed gate shows up here."""
        _, target, hist, mask = self.embedding(batch, self.max_len)
        gate, _ = self.gate(hist, target, mask, self.query(batch))  # (B, K)
        entropy = -(gate * gate.clamp_min(1e-12).log()).sum(dim=1).mean()
        k = gate.shape[1]
        return {"gate_entropy": round(float(entropy) / max(float(torch.log(torch.tensor(float(k)))), 1e-12), 4),
                "expert_load": [round(float(x), 4) for x in gate.mean(dim=0)]}

    def embedding_regularizer(self, batch):
        return self.embedding.regularizer(batch)

"""SUAN and LightSUAN: stacked Unified Attention Blocks over a target-aware behaviour sequence.

Lai et al., "Exploring Scaling Laws of CTR Model for Online Performance Improvement", RecSys 2025
(arXiv 2508.15326); reference code ``laiweijiang/SUAN`` (TF1, SUAN only). See
``../shared/specs/ctr_models.md`` section 3 for the details followed here.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..schema import FeatureSchema
from .behaviours import BehaviourFields
from .layers import MLP

NEG = -1e9  # the paper's additive mask value; finite, so fully masked (padding) rows stay finite


def time_bucket(delta: torch.Tensor, num_buckets: int = 128) -> torch.Tensor:
    """floor(ln(max(|Δt|, 1)) / 0.301) clipped to [0, num_buckets]: 1 h → 27, 1 day → 37 (seconds)."""
    delta = delta.detach().abs().clamp(min=1.0)
    return (torch.log(delta) / 0.301).floor().clamp(0, num_buckets).long()


def causal_mask(n: int, device=None) -> torch.Tensor:
    """(n, n) bool, True where query i may attend key j: j <= i. The target (last) sees everything."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def sparse_causal_mask(n: int, window: int, dilation: int, device=None) -> torch.Tensor:
    """LightSUAN's local + dilated causal mask, (n, n) bool.

    Query i attends key j when 0 <= i - j < ``window`` (the local window, itself included) or when
    i - j is a positive multiple of ``dilation`` (the dilated positions further back). The last row
    (the target token) keeps access to every earlier token.
    """
    idx = torch.arange(n, device=device)
    gap = idx[:, None] - idx[None, :]  # (n, n): i - j
    allowed = (gap >= 0) & ((gap < window) | (gap % max(dilation, 1) == 0))
    allowed[-1] = True
    return allowed


class RMSNorm(nn.Module):
    """γ ⊙ x / (sqrt(mean(x²)) + eps), the form in the SUAN code (eps outside the root)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = (x.pow(2).mean(-1, keepdim=True) + 1e-12).sqrt()  # the 1e-12 keeps the gradient finite at x = 0
        return self.weight * x / (rms + self.eps)


class SwiGLU(nn.Module):
    """W₃(SiLU(W₁x) ⊙ W₂x), hidden width ``mult`` × dim (3 in the paper's config)."""

    def __init__(self, dim: int, mult: int = 3):
        super().__init__()
        self.w1, self.w2 = nn.Linear(dim, mult * dim), nn.Linear(dim, mult * dim)
        self.w3 = nn.Linear(mult * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class RelativeBias(nn.Module):
    """Head-shared attention biases: a Toeplitz relative-position bias w_pos[(N−1) + (j − i)] and a
    time-gap bias w_ts[bucket(|t_i − t_j|)], both from learned scalars (N(0, 0.02) init)."""

    def __init__(self, max_tokens: int, num_buckets: int = 128):
        super().__init__()
        self.max_tokens, self.num_buckets = max_tokens, num_buckets
        self.pos = nn.Parameter(torch.randn(2 * max_tokens + 1) * 0.02)
        self.time = nn.Parameter(torch.randn(num_buckets + 1) * 0.02)

    def position(self, n: int) -> torch.Tensor:
        idx = torch.arange(n, device=self.pos.device)
        return self.pos[(self.max_tokens - 1) + idx[None, :] - idx[:, None]]  # (n, n)

    def forward(self, n: int, times: torch.Tensor | None) -> torch.Tensor:
        bias = self.position(n).unsqueeze(0)  # (1, N, N)
        if times is not None:
            bias = bias + self.time[time_bucket(times[:, :, None] - times[:, None, :], self.num_buckets)]  # (B, N, N)
        return bias.unsqueeze(1)  # (B|1, 1, N, N), shared by every head


class MultiHeadAttention(nn.Module):
    """Bias-free Q/K/V/O projections; ``bias`` is added to the logits, ``allowed`` masks them."""

    def __init__(self, dim: int, n_heads: int, kv_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"token width {dim} must be divisible by n_heads={n_heads}")
        self.h, self.dh = n_heads, dim // n_heads
        kv_dim = kv_dim or dim
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(kv_dim, dim, bias=False)
        self.v = nn.Linear(kv_dim, dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, allowed: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        m = memory.shape[1]
        q = self.q(x).view(b, n, self.h, self.dh).transpose(1, 2)  # (B, H, N, dh)
        k = self.k(memory).view(b, m, self.h, self.dh).transpose(1, 2)  # (B, H, M, dh)
        v = self.v(memory).view(b, m, self.h, self.dh).transpose(1, 2)
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.dh)  # (B, H, N, M)
        if bias is not None:
            logits = logits + bias
        logits = logits.masked_fill(~allowed, NEG)
        out = self.dropout(logits.softmax(-1)) @ v  # (B, H, N, dh)
        return self.o(out.transpose(1, 2).reshape(b, n, d))  # (B, N, D)


class DualAlignmentGate(nn.Module):
    """The two-branch selective-kernel gate (code name ``MS_SeNet``): per-channel weights, a softmax
    across the sequence branch X and the profile branch C, shared by all positions. The squeeze is
    a mean over *real* tokens only, so padding never reaches it."""

    def __init__(self, dim: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, dim // reduction)
        self.squeeze = nn.Linear(dim, hidden, bias=False)
        self.to_x = nn.Linear(hidden, dim, bias=False)
        self.to_c = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        w = valid.unsqueeze(-1).to(x.dtype)  # (B, N, 1)
        s = ((x + c) * w).sum(1) / w.sum(1).clamp(min=1)  # (B, D)
        h = F.relu(self.squeeze(s))  # (B, D/r)
        weights = torch.stack([self.to_x(h), self.to_c(h)]).softmax(0)  # (2, B, D)
        return weights[0].unsqueeze(1) * x + weights[1].unsqueeze(1) * c  # (B, N, D)


class UnifiedAttentionBlock(nn.Module):
    """One UAB: RMSNorm → self-attention with position/time biases (+ residual, RMSNorm) → AFNet
    (profile cross-attention and the dual alignment gate; + residual, RMSNorm) → SwiGLU (+ residual)."""

    def __init__(self, dim: int, n_heads: int, profile_dim: int, dropout: float = 0.0, ffn_mult: int = 3):
        super().__init__()
        self.norm_in, self.norm_sa, self.norm_af = RMSNorm(dim), RMSNorm(dim), RMSNorm(dim)
        self.self_attention = MultiHeadAttention(dim, n_heads, dropout=dropout)
        self.cross_attention = MultiHeadAttention(dim, n_heads, kv_dim=profile_dim, dropout=dropout) if profile_dim else None
        self.gate = DualAlignmentGate(dim)
        self.ffn = SwiGLU(dim, ffn_mult)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, bias: torch.Tensor, valid: torch.Tensor,
                profile: torch.Tensor | None) -> torch.Tensor:
        x = self.norm_in(x)
        x = self.norm_sa(x + self.dropout(self.self_attention(x, x, allowed, bias)))  # (B, N, D)
        if self.cross_attention is not None and profile is not None:
            everyone = torch.ones(1, 1, 1, profile.shape[1], dtype=torch.bool, device=x.device)
            c = self.cross_attention(x, profile, everyone)  # (B, N, D): softmax over the P profile fields
        else:
            c = torch.zeros_like(x)
        x = self.norm_af(x + self.dropout(self.gate(x, c, valid)))
        return x + self.dropout(self.ffn(x))


class SUAN(nn.Module):
    """SUAN (Lai et al., RecSys 2025): a stack of :class:`UnifiedAttentionBlock` over the behaviour
    sequence with the candidate appended as the last token; the target token's final state, all field
    embeddings and the numeric features feed an MLP that gives the click logit.

    Arguments:
        schema: the encoded dataset; needs ``schema.sequence`` (behaviour sequences).
        embedding_dim: d, the size of every field embedding (8 in the paper's configs). A token is the
            concatenation of its item fields' embeddings (plus a projected multimodal vector when
            ``schema.sequence.multimodal_dim > 0``), so its width is D = n_fields·d (+ d).
        n_layers, n_heads: number of UABs and attention heads (2 and 2 in the paper).
        num_buckets: time-gap buckets of the relative-time bias (128).
        dropout: after each sub-layer and on attention weights (0 in the paper).
        hidden_units, batch_norm: the prediction MLP ([1024, 512, 256] with BatchNorm in the paper).
        profile_fields: categorical fields the cross-attention reads as the user profile; by default
            every categorical field that is not an item field of the sequence (e.g. ``user_id``).
        attention: ``full`` (causal) or ``sparse`` (LightSUAN's local + dilated mask).
        window, dilation: the sparse mask's local window and dilation stride.

    Departures from the paper/code, and why:
        - The target token is built from the same item-field embeddings as the behaviours (the
          Mix1k variant), not from a dense projection of all target fields (Eleme); the other
          target/context fields still reach the head.
        - The absolute position table is indexed from the target backwards (target 0, newest
          behaviour 1, ...), so left padding never moves a token's position; no per-token hour
          embedding (time enters through the time-gap bias only).
        - Cross-attention scales by √d_head (the code scales by the number of profile fields).
        - The head MLP uses ReLU (optionally BatchNorm) instead of Dice, and there is no BatchNorm on
          the logit: with no negative sampling there is no calibration to rectify.
        - The dual-alignment squeeze averages over real tokens only, so padding cannot change the output.
        - Behaviour fields (the user's past feedback on each behaviour, the action type) are embedded
          and added to the behaviour tokens (not to the target token, whose feedback is predicted).
    """

    def __init__(self, schema: FeatureSchema, embedding_dim: int = 8, n_layers: int = 2, n_heads: int = 2,
                 num_buckets: int = 128, dropout: float = 0.0, hidden_units: list[int] | None = None,
                 batch_norm: bool = False, profile_fields: list[str] | None = None, attention: str = "full",
                 window: int = 8, dilation: int = 4, ffn_mult: int = 3):
        super().__init__()
        if schema.sequence is None:
            raise ValueError("SUAN needs behaviour sequences: give a history column the role `sequence`.")
        if attention not in ("full", "sparse"):
            raise ValueError(f"attention must be full or sparse; got {attention!r}")
        seq = schema.sequence
        self.d, self.attention, self.window, self.dilation = embedding_dim, attention, window, dilation
        sizes = [f.vocab_size for f in schema.categorical]
        self.register_buffer("offsets", torch.tensor([0] + sizes[:-1], dtype=torch.long).cumsum(0), persistent=False)
        self.table = nn.Embedding(max(sum(sizes), 1), embedding_dim, padding_idx=None)
        nn.init.normal_(self.table.weight, std=1e-2)
        self.seq_keys = [f"hist_{name}" for name in seq.fields]
        self.seq_columns = [schema.field_index(target) for target in seq.fields.values()]
        item_fields = set(seq.fields.values()) | {seq.item_field}
        if profile_fields is None:
            profile_fields = [f.name for f in schema.categorical if f.name not in item_fields]
        self.profile_columns = [schema.field_index(name) for name in profile_fields]
        self.multimodal = nn.Linear(seq.multimodal_dim, embedding_dim, bias=False) if seq.multimodal_dim else None
        self.dim = embedding_dim * (len(self.seq_keys) + (1 if self.multimodal is not None else 0))
        self.behaviour = BehaviourFields(seq.behaviour_fields, self.dim)
        self.max_len, self.has_time = seq.max_len, seq.has_time
        self.position = nn.Parameter(torch.randn(seq.max_len + 1, self.dim) * 0.02)  # row 0: the target
        self.bias = RelativeBias(seq.max_len + 1, num_buckets)
        profile_dim = embedding_dim if self.profile_columns else 0
        self.blocks = nn.ModuleList(UnifiedAttentionBlock(self.dim, n_heads, profile_dim, dropout, ffn_mult)
                                    for _ in range(n_layers))
        head_in = self.dim + len(sizes) * embedding_dim + schema.num_numeric
        self.head = MLP(head_in, hidden_units or [256, 128], dropout, batch_norm)

    def tokens(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The target-aware sequence (B, L+1, D) and its validity mask (B, L+1)."""
        cat = batch["cat"] + self.offsets  # (B, F)
        hist = [self.table(batch[key] + self.offsets[col]) for key, col in zip(self.seq_keys, self.seq_columns)]
        target = [self.table(cat[:, col]) for col in self.seq_columns]  # each (B, d)
        if self.multimodal is not None:
            hist.append(self.multimodal(batch["hist_item_emb"]))  # (B, L, d)
            target.append(self.multimodal(batch["item_emb"]))  # (B, d)
        hist = torch.cat(hist, -1)  # (B, L, D)
        if len(self.behaviour):
            hist = hist + self.behaviour(batch)  # past feedback / action type; the target has none
        x = torch.cat([hist, torch.cat(target, -1).unsqueeze(1)], 1)  # (B, L+1, D)
        n = x.shape[1]
        x = x + self.position[:n].flip(0)  # the target gets row 0, the newest behaviour row 1, ...
        mask = batch["hist_mask"]
        valid = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)  # (B, L+1)
        return x, valid  # padded tokens stay as they are: the masks keep them out of every real token

    def self_attention_mask(self, n: int, device) -> torch.Tensor:
        if self.attention == "sparse":
            return sparse_causal_mask(n, self.window, self.dilation, device)
        return causal_mask(n, device)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x, valid = self.tokens(batch)  # (B, N, D), (B, N)
        n = x.shape[1]
        allowed = self.self_attention_mask(n, x.device)[None, None] & valid[:, None, None, :]  # (B, 1, N, N)
        times = None
        if self.has_time and "hist_time" in batch:
            times = torch.cat([batch["hist_time"], batch["target_time"].unsqueeze(1)], 1)  # (B, N)
        bias = self.bias(n, times)
        profile = self.table(batch["cat"][:, self.profile_columns] + self.offsets[self.profile_columns]) \
            if self.profile_columns else None  # (B, P, d)
        for block in self.blocks:
            x = block(x, allowed, bias, valid, profile)
        parts = [x[:, -1], self.table(batch["cat"] + self.offsets).flatten(1)]  # (B, D), (B, F·d)
        if "num" in batch:
            parts.append(batch["num"])
        return self.head(torch.cat(parts, 1)).squeeze(-1)  # (B,)


class LightSUAN(SUAN):
    """LightSUAN (same paper): SUAN with sparse self-attention, a local window of ``window`` recent
    tokens plus every ``dilation``-th token further back (:func:`sparse_causal_mask`), meant to be a
    low-grade student distilled online from a SUAN teacher (``modeling/distill.py``).

    Departure: the mask is applied to dense attention logits, so on CPU it saves no FLOPs by itself;
    the serving speed-up measured here comes from the student's smaller grade (width/depth). The
    paper's parallel inference (many candidates sharing one sequence encoding) is not implemented.
    """

    def __init__(self, schema: FeatureSchema, embedding_dim: int = 8, n_layers: int = 1, n_heads: int = 2,
                 window: int = 8, dilation: int = 4, **kwargs):
        super().__init__(schema, embedding_dim=embedding_dim, n_layers=n_layers, n_heads=n_heads,
                         attention="sparse", window=window, dilation=dilation, **kwargs)

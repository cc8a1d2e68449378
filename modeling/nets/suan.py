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
from .sparse_attention import CausalHistory, LocalDilatedHistory, TargetRows

NEG = -1e9  # the paper's additive mask value; finite, so fully masked (padding) rows stay finite


def time_bucket(delta: torch.Tensor, num_buckets: int = 128) -> torch.Tensor:
    """floor(ln(max(|Δt|, 1)) / 0.301) clipped to [0, num_buckets]: 1 h → 27, 1 day → 37 (seconds)."""
    delta = delta.detach().abs().clamp_(min=1.0)  # a new tensor: the rest is in place (long sequences)
    return delta.log_().div_(0.301).floor_().clamp_(0, num_buckets).long()


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

    def pairs(self, rel: torch.Tensor, t_query: torch.Tensor | None = None,
              t_key: torch.Tensor | None = None) -> torch.Tensor:
        """The bias of the pairs whose relative position j − i is ``rel`` (any shape), plus the time
        bias of the gaps t_query − t_key when given (broadcast against ``rel``); used by the kept-pair
        attention of ``sparse_attention.py``. Out-of-range offsets (masked pairs only) are clamped."""
        out = self.pos[((self.max_tokens - 1) + rel).clamp(0, 2 * self.max_tokens)]
        if t_query is not None:
            out = out + self.time[time_bucket(t_query - t_key, self.num_buckets)]
        return out

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

    def split_heads(self, x: torch.Tensor, proj: nn.Linear) -> torch.Tensor:
        """(B, N, ·) → (B, H, N, dh) through ``proj``."""
        return proj(x).view(x.shape[0], x.shape[1], self.h, self.dh).transpose(1, 2)

    def merge_heads(self, out: torch.Tensor) -> torch.Tensor:
        """(B, H, N, dh) → (B, N, D) through the output projection."""
        b, _, n, _ = out.shape
        return self.o(out.transpose(1, 2).reshape(b, n, self.h * self.dh))

    def forward(self, x: torch.Tensor, memory: torch.Tensor, allowed: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        q = self.split_heads(x, self.q)  # (B, H, N, dh)
        k, v = self.split_heads(memory, self.k), self.split_heads(memory, self.v)  # (B, H, M, dh)
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
        weights = self.weights(s).unsqueeze(2)  # (2, B, 1, D)
        return weights[0] * x + weights[1] * c  # (B, N, D)

    def weights(self, s: torch.Tensor) -> torch.Tensor:
        """The branch weights for squeezed vectors ``s`` (..., D) → (2, ..., D), summing to 1."""
        h = F.relu(self.squeeze(s))  # (..., D/r)
        return torch.stack([self.to_x(h), self.to_c(h)]).softmax(0)


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

    def forward_split(self, hist: torch.Tensor, targets: torch.Tensor, history, target_rows, valid: torch.Tensor,
                      profile: torch.Tensor | None, last: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The same block on the history (B, L, D) and K target tokens (B, K, D) kept apart: history
        queries attend through ``history`` (a ``sparse_attention`` pattern), each target reads the
        history and itself (``target_rows``). With K = 1 this equals :meth:`forward` on the
        concatenated tokens. The dual-alignment squeeze averages the real history tokens *and* the
        target, so the history's output depends on the target: it is returned only when K = 1, and
        skipped (``None``) in the ``last`` block, where nothing reads it.
        """
        sa = self.self_attention
        h, t = self.norm_in(hist), self.norm_in(targets)
        qh, kh, vh = sa.split_heads(h, sa.q), sa.split_heads(h, sa.k), sa.split_heads(h, sa.v)  # (B, H, L, dh)
        qt, kt, vt = sa.split_heads(t, sa.q), sa.split_heads(t, sa.k), sa.split_heads(t, sa.v)  # (B, H, K, dh)
        t = self.norm_sa(t + self.dropout(sa.merge_heads(target_rows.attend(qt, kh, vh, kt, vt, sa.dropout))))
        h = self.norm_sa(h + self.dropout(sa.merge_heads(history.attend(qh, kh, vh, sa.dropout))))  # (B, L, D)
        if self.cross_attention is not None and profile is not None:
            everyone = torch.ones(1, 1, 1, profile.shape[1], dtype=torch.bool, device=h.device)
            ch, ct = self.cross_attention(h, profile, everyone), self.cross_attention(t, profile, everyone)
        else:
            ch, ct = torch.zeros_like(h), torch.zeros_like(t)
        w = valid.unsqueeze(-1).to(h.dtype)  # (B, L, 1)
        total = ((h + ch) * w).sum(1, keepdim=True)  # (B, 1, D): the real history tokens' share of the squeeze
        weights = self.gate.weights((total + t + ct) / (w.sum(1, keepdim=True) + 1))  # (2, B, K, D)
        t = self.norm_af(t + self.dropout(weights[0] * t + weights[1] * ct))
        t = t + self.dropout(self.ffn(t))  # (B, K, D)
        if last:
            return None, t
        if targets.shape[1] != 1:
            raise ValueError("the history's output depends on the target: share it across candidates only in the last block")
        h = self.norm_af(h + self.dropout(weights[0] * h + weights[1] * ch))
        return h + self.dropout(self.ffn(h)), t


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
        block_size: query block of the sparse window's banded computation (default: the window).
        attention_impl: ``kept`` computes only the kept query–key pairs, the history apart from the
            target (``sparse_attention.py``); ``dense_mask`` is the reference, dense (N × N) logits
            under the mask. Both give the same output up to float rounding.

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
                 window: int = 8, dilation: int = 4, ffn_mult: int = 3, block_size: int | None = None,
                 attention_impl: str = "kept"):
        super().__init__()
        if schema.sequence is None:
            raise ValueError("SUAN needs behaviour sequences: give a history column the role `sequence`.")
        if attention not in ("full", "sparse"):
            raise ValueError(f"attention must be full or sparse; got {attention!r}")
        if attention_impl not in ("kept", "dense_mask"):
            raise ValueError(f"attention_impl must be kept or dense_mask; got {attention_impl!r}")
        if window < 1 or dilation < 1:
            raise ValueError(f"window and dilation must be >= 1; got {window}, {dilation}")
        seq = schema.sequence
        self.d, self.attention, self.window, self.dilation = embedding_dim, attention, window, dilation
        self.block_size = block_size or window
        self.attention_impl = attention_impl
        self.field_index = {f.name: i for i, f in enumerate(schema.categorical)}
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

    def history_tokens(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The behaviour tokens (B, L, D) with their positions, and their validity mask (B, L)."""
        hist = [self.table(batch[key] + self.offsets[col]) for key, col in zip(self.seq_keys, self.seq_columns)]
        if self.multimodal is not None:
            hist.append(self.multimodal(batch["hist_item_emb"]))  # (B, L, d)
        hist = torch.cat(hist, -1)  # (B, L, D)
        if len(self.behaviour):
            hist = hist + self.behaviour(batch)  # past feedback / action type; the target has none
        length = hist.shape[1]
        hist = hist + self.position[1:length + 1].flip(0)  # the newest behaviour gets row 1, ...
        return hist, batch["hist_mask"].bool()  # padded tokens stay as they are: the masks keep them out

    def target_tokens(self, cat: torch.Tensor, item_emb: torch.Tensor | None) -> torch.Tensor:
        """The target token(s) from categorical rows ``cat`` (..., F) and multimodal vectors → (..., D)."""
        target = [self.table(cat[..., col] + self.offsets[col]) for col in self.seq_columns]  # each (..., d)
        if self.multimodal is not None:
            target.append(self.multimodal(item_emb))  # (..., d)
        return torch.cat(target, -1) + self.position[0]  # the target gets position row 0

    def tokens(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The target-aware sequence (B, L+1, D) and its validity mask (B, L+1)."""
        hist, mask = self.history_tokens(batch)
        target = self.target_tokens(batch["cat"], batch.get("item_emb"))  # (B, D)
        valid = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)  # (B, L+1)
        return torch.cat([hist, target.unsqueeze(1)], 1), valid

    def self_attention_mask(self, n: int, device) -> torch.Tensor:
        if self.attention == "sparse":
            return sparse_causal_mask(n, self.window, self.dilation, device)
        return causal_mask(n, device)

    def profile(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        if not self.profile_columns:
            return None
        return self.table(batch["cat"][:, self.profile_columns] + self.offsets[self.profile_columns])  # (B, P, d)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.attention_impl == "dense_mask":
            return self.forward_dense_mask(batch)
        target = self.target_tokens(batch["cat"], batch.get("item_emb")).unsqueeze(1)  # (B, 1, D)
        return self._score(batch, target, batch["cat"].unsqueeze(1)).squeeze(1)  # (B,)

    def forward_dense_mask(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The reference: every layer's attention on dense (N × N) logits under the (sparse) mask."""
        x, valid = self.tokens(batch)  # (B, N, D), (B, N)
        n = x.shape[1]
        allowed = self.self_attention_mask(n, x.device)[None, None] & valid[:, None, None, :]  # (B, 1, N, N)
        times = None
        if self.has_time and "hist_time" in batch:
            times = torch.cat([batch["hist_time"], batch["target_time"].unsqueeze(1)], 1)  # (B, N)
        bias = self.bias(n, times)
        profile = self.profile(batch)
        for block in self.blocks:
            x = block(x, allowed, bias, valid, profile)
        return self._head(batch, x[:, -1:], batch["cat"].unsqueeze(1)).squeeze(1)  # (B,)

    def score_candidates(self, batch: dict[str, torch.Tensor], candidates: dict[str, torch.Tensor]) -> torch.Tensor:
        """Click logits (B, K) of K candidate items per row, sharing one encoding of the history (the
        paper's parallel inference).

        ``candidates`` maps categorical field names (the item-side fields, e.g. ``item_id`` and
        ``genre``) to (B, K) encoded ids, plus ``item_emb`` (B, K, m) when the model reads
        multimodal vectors; fields not given keep the batch's value (user and context fields). The
        candidates read the history, never each other, so score k equals ``forward`` on the batch
        with candidate k as its target (up to float rounding).

        Sharing: history tokens never read the target (causality), but each block's dual-alignment
        squeeze averages the history *and* the target, so after one block the history's state
        depends on the candidate. The history is therefore encoded once only with one block (the
        LightSUAN default); with more blocks every row is expanded to K rows and encoded per
        candidate (still exact, without the saving).
        """
        cat = batch["cat"].unsqueeze(1)
        k = next(iter(candidates.values())).shape[1]
        cat = cat.expand(-1, k, -1).clone()  # (B, K, F)
        for name, ids in candidates.items():
            if name == "item_emb":
                continue
            if name not in self.field_index:
                raise ValueError(f"unknown candidate field {name!r}; categorical fields: {sorted(self.field_index)}")
            cat[:, :, self.field_index[name]] = ids
        if self.multimodal is not None and "item_emb" not in candidates:
            raise ValueError("this model reads item vectors: give the candidates' `item_emb` (B, K, m)")
        targets = self.target_tokens(cat, candidates.get("item_emb"))  # (B, K, D)
        if len(self.blocks) == 1 or k == 1:
            return self._score(batch, targets, cat)
        rows = batch["cat"].shape[0]
        expanded = {key: value.repeat_interleave(k, 0) for key, value in batch.items()}
        flat = self._score(expanded, targets.reshape(rows * k, 1, -1), cat.reshape(rows * k, 1, -1))
        return flat.view(rows, k)

    def _score(self, batch: dict[str, torch.Tensor], targets: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) for target tokens (B, K, D) with categorical rows ``cat`` (B, K, F)."""
        hist, valid = self.history_tokens(batch)
        times = target_time = None
        if self.has_time and "hist_time" in batch:
            times, target_time = batch["hist_time"], batch["target_time"]
        if self.attention == "sparse":
            history = LocalDilatedHistory(valid, times, self.bias, self.window, self.dilation, self.block_size)
        else:
            history = CausalHistory(valid, times, self.bias)
        rows = TargetRows(valid, times, target_time, self.bias)
        profile = self.profile(batch)
        for i, block in enumerate(self.blocks):
            hist, targets = block.forward_split(hist, targets, history, rows, valid, profile, last=i == len(self.blocks) - 1)
        return self._head(batch, targets, cat)  # (B, K)

    def _head(self, batch: dict[str, torch.Tensor], states: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        """The MLP on [target state; every field embedding; numeric features] for each of K targets → (B, K)."""
        rows, k = states.shape[:2]
        parts = [states, self.table(cat + self.offsets).flatten(2)]  # (B, K, D), (B, K, F·d)
        if "num" in batch:
            parts.append(batch["num"].unsqueeze(1).expand(-1, k, -1))
        return self.head(torch.cat(parts, -1).flatten(0, 1)).view(rows, k)


class LightSUAN(SUAN):
    """LightSUAN (same paper): SUAN with sparse self-attention, a local window of ``window`` recent
    tokens plus every ``dilation``-th token further back (:func:`sparse_causal_mask`), meant to be a
    low-grade student distilled online from a SUAN teacher (``modeling/distill.py``).

    The attention computes only the kept pairs: the window as banded blocks and the dilated
    positions per residue class (:class:`~modeling.nets.sparse_attention.LocalDilatedHistory`),
    O(N·(window + N/dilation)) logits instead of O(N²); ``attention_impl="dense_mask"`` keeps the
    masked dense reference. Parallel inference (the paper's: many candidates sharing one encoding of
    the history) is :meth:`SUAN.score_candidates`; with the default single block the history is
    encoded once per request.
    """

    def __init__(self, schema: FeatureSchema, embedding_dim: int = 8, n_layers: int = 1, n_heads: int = 2,
                 window: int = 8, dilation: int = 4, **kwargs):
        super().__init__(schema, embedding_dim=embedding_dim, n_layers=n_layers, n_heads=n_heads,
                         attention="sparse", window=window, dilation=dilation, **kwargs)

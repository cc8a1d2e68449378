"""Self-attention over a behaviour sequence that computes only the query–key pairs it keeps.

SUAN's token sequence is the history (positions 0..L−1, oldest first, left padded) followed by
the target. History tokens attend causally (they never see the target), and the target attends to
every real history token and to itself. That split lets the history be encoded once and shared by
many candidate targets (:meth:`modeling.nets.suan.SUAN.score_candidates`).

Three attention patterns, each built once per forward (masks and the relative position/time biases
of the kept pairs) and applied in every layer:

* :class:`CausalHistory`: history query i reads keys j ≤ i (SUAN): (B, H, L, L) logits.
* :class:`LocalDilatedHistory`: LightSUAN's kept set, exactly the pairs of
  :func:`modeling.nets.suan.sparse_causal_mask`: query i reads key j when 0 ≤ i − j < w (local
  window, itself included) or i − j = m·r for an integer m ≥ 1 (dilated positions). It computes
    - the window as banded blocks: queries in blocks of b, block c reading key blocks c−p..c
      (p = ⌈(w−1)/b⌉), (B, H, ⌈L/b⌉, b, (p+1)·b) logits, the pairs outside the band masked;
    - the dilated part in the residue layout: the keys j ≡ i (mod r) form a subsequence of
      T = ⌈L/r⌉ positions, and query i = ρ + r·t reads its residue class at steps t′ ≤ t − m₀ with
      m₀ = ⌈w/r⌉ (≥ 1), (B, H, r, T, T) logits. Starting at m₀ leaves out the dilated positions
      inside the window, so every kept key is counted once;
    - one softmax over the union (window keys and dilated keys side by side).
  Work: L·((p+1)·b + T) logits per head instead of L², i.e. O(L·(w + L/r)).
* :class:`TargetRows`: K target tokens (one per candidate) each read every real history token and
  themselves, never each other: (B, H, K, L) + (B, H, K, 1) logits.

Masked pairs get the same finite −1e9 as the dense path, so the kept pairs' weights equal the dense
masked softmax's up to float rounding. A padded history query may have no real key; its row stays
finite and is never read by a real token (as in the dense path).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

NEG = -1e9  # the paper's additive mask value, as in modeling/nets/suan.py


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _pad_rows(x: torch.Tensor, rows: int, dim: int = 2) -> torch.Tensor:
    """Pad ``x`` with zeros at the end of dimension ``dim`` up to ``rows``."""
    extra = rows - x.shape[dim]
    if extra == 0:
        return x
    pad = [0, 0] * (x.dim() - 1 - dim) + [0, extra]
    return F.pad(x, pad)


def _per_head(bias: torch.Tensor, times: torch.Tensor | None) -> torch.Tensor:
    """A per-row bias (it has a time part) gets a head axis after the batch; a position-only bias
    has no batch axis and broadcasts as it is. Every head shares it."""
    return bias.unsqueeze(1) if times is not None else bias


class CausalHistory:
    """Dense causal attention among history tokens (SUAN): query i reads real keys j ≤ i."""

    def __init__(self, valid: torch.Tensor, times: torch.Tensor | None, bias):
        length = valid.shape[1]
        idx = torch.arange(length, device=valid.device)
        rel = idx[None, :] - idx[:, None]  # (L, L): j − i
        self.allowed = ((rel <= 0)[None] & valid[:, None, :]).unsqueeze(1)  # (B, 1, L, L)
        pair_times = (times[:, :, None], times[:, None, :]) if times is not None else (None, None)
        self.bias = _per_head(bias.pairs(rel, *pair_times), times)  # (B, 1, L, L) or (L, L)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout: nn.Module) -> torch.Tensor:
        logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + self.bias  # (B, H, L, L)
        return dropout(logits.masked_fill(~self.allowed, NEG).softmax(-1)) @ v  # (B, H, L, dh)


class LocalDilatedHistory:
    """LightSUAN's local window + dilated positions, computing only those pairs (module docstring)."""

    def __init__(self, valid: torch.Tensor, times: torch.Tensor | None, bias, window: int, dilation: int,
                 block: int):
        if window < 1 or dilation < 1 or block < 1:
            raise ValueError(f"window, dilation and block must be >= 1; got {window}, {dilation}, {block}")
        dev = valid.device
        length = valid.shape[1]
        self.length, self.w, self.r, self.b = length, window, dilation, block
        self.p = _ceil_div(window - 1, block)  # key blocks before the query's own block
        self.nb = _ceil_div(length, block)
        self.kl = (self.p + 1) * block  # window keys read per query block
        self.t = _ceil_div(length, dilation)  # steps of each residue class
        first = max(1, _ceil_div(window, dilation))  # m₀: first dilated multiple outside the window

        # Local band, in block layout: query c·b + o, key (c − p)·b + kk.
        o = torch.arange(block, device=dev)
        kk = torch.arange(self.kl, device=dev)
        gap = self.p * block + o[:, None] - kk[None, :]  # (b, kl): i − j
        band = (gap >= 0) & (gap < window)
        blocks = torch.arange(self.nb, device=dev)
        key_pos = (blocks[:, None] - self.p) * block + kk[None, :]  # (nb, kl)
        query_pos = blocks[:, None] * block + o[None, :]  # (nb, b)
        inside = (key_pos >= 0) & (key_pos < length)
        key_ok = valid[:, key_pos.clamp(0, length - 1)] & inside  # (B, nb, kl)
        local_allowed = (band[None, None] & key_ok[:, :, None, :]).unsqueeze(1)  # (B, 1, nb, b, kl)
        if times is not None:
            tq = times[:, query_pos.clamp(max=length - 1)][..., :, None]  # (B, nb, b, 1)
            tk = times[:, key_pos.clamp(0, length - 1)][:, :, None, :]  # (B, nb, 1, kl)
        else:
            tq = tk = None
        # the kept pairs' biases, NEG elsewhere (the row maximum is then a kept pair's logit)
        self.local_bias = torch.where(local_allowed, _per_head(bias.pairs(-gap, tq, tk), times), NEG)  # (B, 1, nb, b, kl)
        self.local_masked = ~local_allowed

        # Dilated positions, in residue layout: position ρ + r·t is (ρ, t).
        steps = torch.arange(self.t, device=dev)
        pos = steps[None, :] * dilation + torch.arange(dilation, device=dev)[:, None]  # (r, T)
        reads = steps[None, :] <= steps[:, None] - first  # (T_q, T_k): i − j = r·(t − t′) ≥ r·m₀ ≥ w
        key_ok = valid[:, pos.clamp(max=length - 1)] & (pos < length)  # (B, r, T)
        dilated_allowed = (reads[None, None] & key_ok[:, :, None, :]).unsqueeze(1)  # (B, 1, r, T, T)
        rel = (steps[None, :] - steps[:, None]) * dilation  # (T, T): j − i
        if times is not None:
            t_res = times[:, pos.clamp(max=length - 1)]  # (B, r, T)
            tq, tk = t_res[..., :, None], t_res[..., None, :]
        else:
            tq = tk = None
        self.dilated_bias = torch.where(dilated_allowed, _per_head(bias.pairs(rel, tq, tk), times), NEG)  # (B, 1, r, T, T)
        self.dilated_masked = ~dilated_allowed

    @property
    def logits_per_head(self) -> int:
        """Query–key pairs computed per row and head: the window blocks plus the residue classes."""
        return self.nb * self.b * self.kl + self.r * self.t * self.t

    def _window_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, L, dh) keys → (B, H, nb, (p+1)·b, dh): each query block's window keys."""
        b, nb, p = self.b, self.nb, self.p
        padded = F.pad(x, (0, 0, p * b, nb * b - self.length))  # (B, H, (nb+p)·b, dh)
        padded = padded.view(*x.shape[:2], nb + p, b, x.shape[-1])
        return torch.cat([padded[:, :, s:s + nb] for s in range(p + 1)], dim=3) if p else padded

    def _blocks(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, L, ·) → (B, H, nb, b, ·): queries in blocks of b."""
        return _pad_rows(x, self.nb * self.b).view(*x.shape[:2], self.nb, self.b, x.shape[-1])

    def _from_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, nb, b, ·) → (B, H, L, ·)."""
        return x.reshape(x.shape[0], x.shape[1], self.nb * self.b, x.shape[-1])[:, :, :self.length]

    def _residues(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, L, ·) → (B, H, r, T, ·): row ρ holds positions ρ, ρ + r, ρ + 2r, ..."""
        x = _pad_rows(x, self.t * self.r)
        return x.view(*x.shape[:2], self.t, self.r, x.shape[-1]).transpose(2, 3)

    def _from_residues(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, r, T, ·) → (B, H, L, ·), back in position order."""
        x = x.transpose(2, 3)
        return x.reshape(x.shape[0], x.shape[1], self.t * self.r, x.shape[-1])[:, :, :self.length]

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout: nn.Module) -> torch.Tensor:
        """(B, H, L, dh) queries, keys, values → (B, H, L, dh).

        One softmax over the kept union without concatenating the two parts: a shared row maximum
        (detached: a softmax does not depend on the shift), each part's exponentials in its own
        layout, one normaliser; only the (B, H, L) row statistics move between layouts. The masked
        pairs' exponentials are set to exactly 0 after a clamp at −80 (exp of the −1e9 mask value
        takes a slow path, ~10× slower on CPU); a row with no kept key (a padded query) gives 0.
        """
        q = q / math.sqrt(q.shape[-1])
        k_win, v_win = self._window_blocks(k), self._window_blocks(v)  # (B, H, nb, kl, dh)
        local = (self._blocks(q) @ k_win.transpose(-1, -2)).add_(self.local_bias)  # (B, H, nb, b, kl)
        k_res, v_res = self._residues(k), self._residues(v)  # (B, H, r, T, dh)
        dilated = (self._residues(q) @ k_res.transpose(-1, -2)).add_(self.dilated_bias)  # (B, H, r, T, T)
        top = torch.maximum(self._from_blocks(local.detach().amax(-1, keepdim=True)),
                            self._from_residues(dilated.detach().amax(-1, keepdim=True)))  # (B, H, L, 1)
        local = self._exp(local, self._blocks(top), self.local_masked)
        dilated = self._exp(dilated, self._residues(top), self.dilated_masked)
        total = self._from_blocks(local.sum(-1, keepdim=True)) + self._from_residues(dilated.sum(-1, keepdim=True))
        out = self._from_blocks(dropout(local) @ v_win) + self._from_residues(dropout(dilated) @ v_res)
        return out / total.clamp_min(1e-30)  # (B, H, L, dh)

    @staticmethod
    def _exp(logits: torch.Tensor, top: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """exp(logits − top), exactly 0 on the masked pairs; in place when no gradient is recorded."""
        if torch.is_grad_enabled() and logits.requires_grad:
            return (logits - top).clamp(min=-80.0).exp().masked_fill(masked, 0.0)
        return logits.sub_(top).clamp_(min=-80.0).exp_().masked_fill_(masked, 0.0)


class TargetRows:
    """K target tokens reading every real history token and themselves (not each other).

    The target sits at index L of the token sequence, so its relative position to history token j
    is j − L; its time gap to itself is 0.
    """

    def __init__(self, valid: torch.Tensor, times: torch.Tensor | None, target_time: torch.Tensor | None, bias):
        length = valid.shape[1]
        rel = torch.arange(length, device=valid.device) - length  # (L,): j − i
        if times is not None:
            hist = bias.pairs(rel, target_time[:, None], times)  # (B, L)
            own = bias.pairs(torch.zeros_like(target_time, dtype=torch.long), target_time, target_time)  # (B,)
        else:
            hist = bias.pairs(rel)[None]  # (1, L)
            own = bias.pairs(torch.zeros(1, dtype=torch.long, device=valid.device))  # (1,)
        self.hist_bias = hist[:, None, None, :]  # (B|1, 1, 1, L)
        self.own_bias = own[:, None, None, None]  # (B|1, 1, 1, 1)
        self.allowed = valid[:, None, None, :]  # (B, 1, 1, L)

    def attend(self, q: torch.Tensor, k_hist: torch.Tensor, v_hist: torch.Tensor, k_own: torch.Tensor,
               v_own: torch.Tensor, dropout: nn.Module) -> torch.Tensor:
        """q, k_own, v_own: (B, H, K, dh); k_hist, v_hist: (B, H, L, dh) → (B, H, K, dh)."""
        scale = 1 / math.sqrt(q.shape[-1])
        hist = (q @ k_hist.transpose(-1, -2)) * scale + self.hist_bias  # (B, H, K, L)
        hist = hist.masked_fill(~self.allowed, NEG)
        own = (q * k_own).sum(-1, keepdim=True) * scale + self.own_bias  # (B, H, K, 1)
        weights = dropout(torch.cat([hist, own], -1).softmax(-1))
        return weights[..., :-1] @ v_hist + weights[..., -1:] * v_own

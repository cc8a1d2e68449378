"""Device choice and mixed precision."""
from __future__ import annotations

import contextlib

import torch


def select_device(preference: str = "auto") -> torch.device:
    """cuda when available (or asked for), else cpu; asking for cuda without one is an error."""
    if preference in ("cuda", "gpu"):
        if not torch.cuda.is_available():
            raise ValueError("A GPU was requested but this worker has no CUDA device.")
        return torch.device("cuda")
    if preference == "cpu":
        return torch.device("cpu")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when supported (fp16 otherwise); a no-op on CPU."""
    if device.type != "cuda" or not enabled:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

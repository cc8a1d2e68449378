"""CTR networks: each takes a FeatureSchema and maps a batch dict to logits (B,)."""
from .dcnv2 import DCNv2
from .deepfm import DeepFM
from .lr import LR

__all__ = ["LR", "DeepFM", "DCNv2"]

"""CTR networks: each takes a FeatureSchema and maps a batch dict to logits (B,).

Sequence nets (DIN, QIN, TIN, AWMoE) read the behaviour part of the batch through
``behaviours.BehaviourEmbedding``; a net with an auxiliary training loss sets ``aux_loss``.
"""
from .awmoe import AWMoE
from .dcnv2 import DCNv2
from .deepfm import DeepFM
from .din import DIN
from .lr import LR
from .qin import QIN
from .tin import TIN

__all__ = ["LR", "DeepFM", "DCNv2", "DIN", "QIN", "TIN", "AWMoE"]

"""Uplift networks: ECUP and the deep baselines, all scoring every arm of the click → conversion chain."""
from .baselines import DragonNet, SLearner, TARNet, TLearner
from .ecup import ECUP
from .layers import UpliftNet, chain_loss

__all__ = ["ECUP", "SLearner", "TLearner", "TARNet", "DragonNet", "UpliftNet", "chain_loss"]

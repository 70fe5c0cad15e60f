"""Active learning: the uncertain_c2c3 scoring method, and the strategies that read its stored scores."""

from .uncertain_c2c3 import Entropy, UncertainC2C3, UncertainC2C3Scoring

__all__ = ["Entropy", "UncertainC2C3", "UncertainC2C3Scoring"]

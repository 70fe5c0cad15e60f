"""Active learning: the uncertain_c2c3 scoring method and strategy."""

from .uncertain_c2c3 import UncertainC2C3, UncertainC2C3Scoring

__all__ = ["UncertainC2C3", "UncertainC2C3Scoring"]

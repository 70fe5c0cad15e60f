"""Active learning: how unsure the models are about an image, and where."""

from mcseg.activelearning.uncertainty import ImageUncertainty, UncertainPatch, entropy_score, score_image

__all__ = ["ImageUncertainty", "UncertainPatch", "entropy_score", "score_image"]

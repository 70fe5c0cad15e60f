"""Active learning: how unsure the models are about an image, and where."""

from mcseg.activelearning.uncertainty import ImageUncertainty, UncertainPatch, score_image

__all__ = ["ImageUncertainty", "UncertainPatch", "score_image"]

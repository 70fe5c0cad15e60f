"""Evaluation: calcification matching, FROC and pixel overlap."""

from mcseg.evaluation.froc import FrocCurve, ImageMatch, froc, match_calcifications, match_listed, pixel_dice

__all__ = ["FrocCurve", "ImageMatch", "froc", "match_calcifications", "match_listed", "pixel_dice"]

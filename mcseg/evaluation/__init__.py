"""Evaluation: ground truth, calcification and cluster matching, FROC, overlap, reports."""

from mcseg.evaluation.froc import (FrocCurve, ImageMatch, aufroc, bootstrap_froc, froc, match_calcifications,
                                   match_clusters, match_listed, match_points, pixel_dice)
from mcseg.evaluation.truth import (GroundTruth, TruthCluster, find_truth, read_mias_info, read_truth_json,
                                    read_truth_mask, truth_from_mask)

__all__ = ["FrocCurve", "GroundTruth", "ImageMatch", "TruthCluster", "aufroc", "bootstrap_froc", "find_truth",
           "froc", "match_calcifications", "match_clusters", "match_listed", "match_points", "pixel_dice",
           "read_mias_info", "read_truth_json", "read_truth_mask", "truth_from_mask"]

"""Evaluation: ground truth, calcification and cluster matching, FROC, overlap, patch error, reports."""

from mcseg.evaluation.froc import (FrocCurve, ImageMatch, aufroc, bootstrap_difference, bootstrap_froc,
                                   calcification_hit_rule,
                                   cluster_hit_rule, froc, match_calcifications, match_clusters, match_listed,
                                   match_points, without_ignored)
from mcseg.evaluation.overlap import Overlap, pixel_dice
from mcseg.evaluation.patch_table import evaluate_patches, patch_error_table
from mcseg.evaluation.truth import (GroundTruth, TruthCluster, find_truth, read_mias_info, read_truth_json,
                                    read_truth_mask, truth_from_mask)

__all__ = ["FrocCurve", "GroundTruth", "ImageMatch", "Overlap", "TruthCluster", "aufroc", "bootstrap_difference",
           "bootstrap_froc",
           "calcification_hit_rule", "cluster_hit_rule", "evaluate_patches", "find_truth", "froc",
           "match_calcifications", "match_clusters", "match_listed", "match_points", "patch_error_table",
           "pixel_dice", "read_mias_info", "read_truth_json", "read_truth_mask", "truth_from_mask", "without_ignored"]

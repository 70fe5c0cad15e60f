"""Stage 5: false-positive reduction, a second look at every listed candidate with more context."""

from mcseg.fp_reduction.classifier import (CLASSIFIER_FILE, CLUSTER_THRESHOLD_META, LISTING_THRESHOLD_META,
                                          PEAK_SEPARATION_META,
                                          SYMMETRIES_META, CandidateClassifier, ClassifierError, classifier_beside)
from mcseg.fp_reduction.features import FEATURE_NAMES, candidate_features, peaks_of

__all__ = ["CLASSIFIER_FILE", "CLUSTER_THRESHOLD_META", "LISTING_THRESHOLD_META", "FEATURE_NAMES", "PEAK_SEPARATION_META", "SYMMETRIES_META",
           "CandidateClassifier",
           "ClassifierError", "candidate_features", "classifier_beside", "peaks_of"]

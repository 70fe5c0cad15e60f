"""Training: labelled cases and their split, the training loop, mining, calibration, and the recipe
that ties them together for `mcseg train` and for retraining from saved labels."""

from mcseg.training.data import LabelledCase, assign_splits, find_cases, split_for, store_mismatch
from mcseg.training.recipe import TrainingDataError, TrainingPlan, retrain_from_labels, train_from_scratch
from mcseg.training.trainer import TrainResult, default_device, train_network

__all__ = ["LabelledCase", "TrainResult", "TrainingDataError", "TrainingPlan", "assign_splits", "default_device",
           "find_cases", "retrain_from_labels", "split_for", "store_mismatch", "train_from_scratch",
           "train_network"]

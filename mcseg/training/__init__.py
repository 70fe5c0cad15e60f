"""Training: patch store from (image, label) pairs, then the two networks."""

from mcseg.training.data import build_store, find_cases, read_label, store_mismatch
from mcseg.training.trainer import TrainResult, default_device, evaluate_patches, train_network

__all__ = ["TrainResult", "build_store", "default_device", "evaluate_patches", "find_cases", "read_label",
           "store_mismatch", "train_network"]

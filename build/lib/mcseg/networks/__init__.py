"""The patch CNN of Valvano 2019 and its checkpoints."""

from mcseg.networks.patch_cnn import PatchCNN, feature_size

__all__ = ["PatchCNN", "feature_size"]

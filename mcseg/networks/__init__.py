"""The patch CNN of Valvano 2019 and its checkpoints; the shallow cluster CNN of Luna-Lozoya et al."""

from mcseg.networks.patch_cnn import PatchCNN, feature_size
from mcseg.networks.shallow_cnn import ShallowClusterCNN

__all__ = ["PatchCNN", "ShallowClusterCNN", "feature_size"]

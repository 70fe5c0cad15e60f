"""Patches of the two networks (Valvano 2019 sec. 3.3): classes C1-C4, where they are sampled,
the SQLite store that holds them, balanced minibatches and their augmentation."""

from mcseg.patches.augment import dihedral_augment
from mcseg.patches.batches import BalancedSampler
from mcseg.patches.cases import add_case_to_store
from mcseg.patches.classes import PatchClass, is_positive, patch_class, patch_class_map
from mcseg.patches.sampling import ExtractedPatches, cut_patches, extract_patches
from mcseg.patches.store import PatchStore

__all__ = [
    "BalancedSampler",
    "ExtractedPatches",
    "PatchClass",
    "PatchStore",
    "add_case_to_store",
    "cut_patches",
    "dihedral_augment",
    "extract_patches",
    "is_positive",
    "patch_class",
    "patch_class_map",
]

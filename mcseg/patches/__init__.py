"""Patch classes C1-C4 and the SQLite patch store (Valvano 2019 sec. 3.3)."""

from mcseg.patches.classes import PatchClass, is_positive, patch_class, patch_class_map
from mcseg.patches.store import BalancedSampler, PatchStore, dihedral_augment, extract_patches

__all__ = [
    "BalancedSampler",
    "PatchClass",
    "PatchStore",
    "dihedral_augment",
    "extract_patches",
    "is_positive",
    "patch_class",
    "patch_class_map",
]

"""Labelled cases: finding them in a folder, their train/validation split, and their patch store.

`mcseg train` and retraining from saved labels share these, so an image gets
the same split and its patches the same store whichever path trains on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from mcseg.defaults import VALIDATION_PERCENT, WORKING_SPACING_MM
from mcseg.io.reader import IMAGE_SUFFIXES
from mcseg.patches import PatchStore

#: Ground-truth masks sit next to their image as ``S<suffix>`` (the generator's).
DEFAULT_LABEL_SUFFIX = ".gt.nrrd"


@dataclass(frozen=True)
class LabelledCase:
    """An image with a final calcification label."""

    image_id: str
    image_path: Path
    label_path: Path


def find_cases(folder: str | Path, label_suffix: str = DEFAULT_LABEL_SUFFIX) -> list[LabelledCase]:
    """Every image S.* of a folder that has a label S<label_suffix>; its id is its file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    cases = []
    for label in sorted(folder.glob(f"*{label_suffix}")):
        stem = label.name[: -len(label_suffix)]
        images = [p for p in folder.glob(f"{stem}.*")
                  if p != label and p.name.lower().endswith(IMAGE_SUFFIXES) and p.name[len(stem)] == "."
                  and not p.name.endswith(label_suffix) and ".gt." not in p.name]
        if images:
            image = sorted(images)[0]
            cases.append(LabelledCase(image.name, image, label))
    return cases


def _hash_percent(image_id: str) -> int:
    return int(hashlib.sha1(image_id.encode()).hexdigest()[:8], 16) % 100


def split_for(image_id: str, val_percent: int = VALIDATION_PERCENT) -> str:
    """'val' or 'train' by a hash of the id: an image keeps its split as more images arrive."""
    return "val" if _hash_percent(image_id) < val_percent else "train"


def assign_splits(image_ids: list[str], val_percent: int = VALIDATION_PERCENT) -> dict[str, str]:
    """The split of every image: :func:`split_for`, except that a set of two or more images
    whose hashes all say 'train' sends the one with the lowest hash to 'val', so that
    there is always a held-out image to validate and calibrate on."""
    splits = {i: split_for(i, val_percent) for i in image_ids}
    if len(splits) > 1 and "val" not in splits.values():
        splits[min(splits, key=lambda i: (_hash_percent(i), i))] = "val"
    return splits


def patch_store_path(workspace: str | Path, patch_size_px: int) -> Path:
    """The patch store of a training folder: one per patch size, so a network of another N
    never reads the wrong patches."""
    return Path(workspace) / f"patches-{patch_size_px}px.sqlite"


def workspace_store(workspace: str | Path, weights: str | Path) -> tuple[PatchStore, float]:
    """The patch store of a training folder for these weights, and their working pixel size."""
    ckpt = torch.load(weights, map_location="cpu", weights_only=True)
    size = int(ckpt["network"]["patch_size_px"])
    spacing = float(ckpt.get("working_spacing_mm") or WORKING_SPACING_MM)
    return PatchStore(patch_store_path(workspace, size), size), spacing


def store_mismatch(store: PatchStore, cases: list[LabelledCase]) -> str | None:
    """Why an existing patch store does not fit ``cases`` (None when it holds exactly their images).

    A store is reused between runs so a stopped run resumes; one left by an interrupted build or
    by another data folder would otherwise train silently on the wrong images."""
    stored = set(store.image_ids())
    wanted = {c.image_id for c in cases}
    if not stored or stored == wanted:
        return None
    return (f"{store.path} holds patches of {len(stored)} images, the data folder has {len(wanted)} labelled "
            f"images ({len(wanted - stored)} not in the store, {len(stored - wanted)} no longer in the folder)")

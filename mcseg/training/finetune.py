"""Fine-tuning one network on a patch store kept in line with a set of labelled cases.

The store is refreshed incrementally (only new, changed or re-split labels are
re-read), the network is fine-tuned from the weights in use, validated on
patches and on whole images (pixel Dice), and the new checkpoint replaces the
published one in a single rename, so inference never sees half a file.
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from mcseg.defaults import RETRAIN_DICE_IMAGES, NetworkConfig, TrainConfig
from mcseg.evaluation import Overlap
from mcseg.io.errors import InputError
from mcseg.io.labels import read_label
from mcseg.io.reader import Mammogram, read_mammogram
from mcseg.patches import PatchClass, PatchStore, add_case_to_store, is_positive
from mcseg.pipeline import Pipeline
from mcseg.training import distributed
from mcseg.training.data import LabelledCase, assign_splits
from mcseg.training.trainer import train_network

log = logging.getLogger(__name__)


@dataclass
class StoreRefresh:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # image id -> why

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "unchanged": len(self.unchanged), "removed": self.removed,
                "skipped": self.skipped}


def refresh_store(
    store: PatchStore,
    cases: list[LabelledCase],
    working_spacing_mm: float,
    spacing_mm: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> StoreRefresh:
    """Bring the store in line with ``cases``.

    A case is (re-)read when its label file is newer than its stored patches or
    its split changed; images that no longer have a label lose their patches. A
    case that cannot be read is skipped with the reason, so one bad file does
    not stop training.
    """
    out = StoreRefresh()
    wanted = {c.image_id for c in cases}
    splits = assign_splits(sorted(wanted))
    for image_id in store.image_ids():
        if image_id not in wanted:
            store.remove_image(image_id)
            out.removed.append(image_id)
    for case in tqdm(cases, desc="patch store", unit="image", disable=not progress):
        stored = store.added_at(case.image_id)
        if (stored is not None and stored >= os.path.getmtime(case.label_path)
                and store.split_of(case.image_id) == splits[case.image_id]):
            out.unchanged.append(case.image_id)
            continue
        try:
            store_case(store, case, splits[case.image_id], working_spacing_mm, spacing_mm, seed)
        except (InputError, ValueError) as exc:
            out.skipped[case.image_id] = str(exc)
            log.warning("patch store: skipped %s: %s", case.image_id, exc)
            continue
        out.added.append(case.image_id)
    return out


def store_case(store: PatchStore, case: LabelledCase, split: str, working_spacing_mm: float,
               spacing_mm: float | None = None, seed: int = 0, mammo: Mammogram | None = None) -> dict[str, int]:
    """Replace one image's patches with those of its current label (per-class counts); ``mammo``: the
    image, where the caller has read it already."""
    return add_case_to_store(store, case.image_path, read_label(case.label_path), case.image_id, split,
                             np.random.default_rng([seed, zlib.crc32(case.image_id.encode())]),
                             working_spacing_mm, spacing_mm, mammo)


def validation_split(store: PatchStore, role: str) -> str:
    """'val' when the held-out images have patches of both labels, else 'train'."""
    counts = store.counts("val")
    both = {bool(is_positive(int(PatchClass[c]), role)) for c, n in counts.items() if n}
    return "val" if both == {True, False} else "train"


def check_trainable(store: PatchStore, role: str) -> None:
    counts = store.counts("train")
    if not any(n for c, n in counts.items() if is_positive(int(PatchClass[c]), role)):
        raise ValueError(
            f"no positive patches for the {role} yet: label at least one calcification in an image "
            "of the training split before training"
        )


def finetune_network(
    role: str,
    store: PatchStore,
    start_from: str | Path,
    publish_to: str | Path,
    config: TrainConfig,
    progress: bool = True,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fine-tune ``start_from`` on the store and publish the best checkpoint at ``publish_to``.

    Settings that belong to the weights (working pixel size, calibrated
    operating threshold) carry over from ``start_from``; ``metadata`` adds to them.
    """
    check_trainable(store, role)
    start = torch.load(start_from, map_location="cpu", weights_only=True)
    if start.get("role") not in (None, role):
        raise ValueError(f"{start_from} holds a {start.get('role')} network, not a {role}")
    network = NetworkConfig.from_dict(start["network"])
    carried = {k: start[k] for k in ("working_spacing_mm", "operating_threshold", "calibration") if k in start}
    val_split = validation_split(store, role)
    metadata = carried | (metadata or {}) | {"trained_on": f"patch store {store.path.name}: {store.counts('train')}",
                                             "finetuned_from": str(start_from), "validated_on": val_split}

    publish_to = Path(publish_to)
    work = publish_to.with_name(publish_to.stem + ".training.pt")
    result = train_network(role, store, work, network, config, metadata, progress=progress, resume=False,
                           init_from=start_from, val_split=val_split)
    # The trainer wrote the work file atomically and fsynced it; a rename in the same folder
    # publishes it whole, so inference loads either the old or the new file. Rank 0 publishes.
    if distributed.current().is_main:
        work.replace(publish_to)
    distributed.barrier()
    return {
        "role": role,
        "published": str(publish_to),
        "steps": result.steps,
        "best_step": result.best_step,
        "seconds": round(result.seconds, 1),
        "validated_on": f"{val_split} split" + ("" if val_split == "val" else
                                                " (no held-out image with calcifications yet)"),
        "patch_validation": result.validation,
        "patches": {"train": store.counts("train"), "val": store.counts("val")},
    }


def image_dice(
    pipeline: Pipeline,
    cases: list[LabelledCase],
    spacing_mm: float | None = None,
    max_images: int = RETRAIN_DICE_IMAGES,
    progress: bool = True,
) -> dict[str, Any]:
    """Pixel Dice of the pipeline's masks on up to ``max_images`` cases (validation ones first)."""
    splits = assign_splits([c.image_id for c in cases])
    ordered = sorted(cases, key=lambda c: (splits[c.image_id] != "val", c.image_id))[:max_images]
    per_image, pooled = {}, Overlap()
    for case in tqdm(ordered, desc="validation Dice", unit="image", disable=not progress):
        mammo = read_mammogram(case.image_path, spacing_mm=spacing_mm)
        truth = read_label(case.label_path)
        if truth.shape != mammo.shape:
            continue
        overlap = Overlap.of(pipeline.run(mammo).mask, truth)
        per_image[case.image_id] = round(overlap.dice, 4)
        pooled = pooled + overlap
    return {"dice": round(pooled.dice, 4), "per_image": per_image,
            "images": list(per_image), "held_out": [i for i in per_image if splits[i] == "val"]}

"""The per-class patch error table of Valvano 2019 (Table 2) on held-out images.

Patches of each class C1-C4 are cut from (image, ground-truth mask) pairs in
the working frame, exactly as for training, and both networks classify a
balanced sample of them (half positive, half negative for each network).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mcseg.patches.store import BalancedSampler, PatchStore
from mcseg.pipeline import Pipeline
from mcseg.training.data import add_case_to_store
from mcseg.training.trainer import evaluate_patches

PATCHES = 4096


def patch_error_table(
    cases: list[tuple[Path, np.ndarray]],
    pipeline: Pipeline,
    spacing_mm: float | None = None,
    patches: int = PATCHES,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """{role: {"error_rate_pct": {C1..C4}, "accuracy", "patches"}} for the detector and the segmentator."""
    if not cases:
        raise ValueError("the patch error table needs images with a ground-truth mask")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = PatchStore(Path(tmp) / "eval.sqlite", pipeline.detector.config.patch_size_px)
        for i, (image, mask) in enumerate(cases):
            add_case_to_store(store, image, mask, f"{i}:{Path(image).name}", "eval",
                              np.random.default_rng([seed, i]), pipeline.config.working_spacing_mm, spacing_mm)
        for role, net in (("detector", pipeline.detector), ("segmentator", pipeline.segmentator)):
            sampler = BalancedSampler(store, role, "eval", np.random.default_rng(seed), augment=False)
            x, y, c = sampler.batch(patches)
            with torch.inference_mode():
                out[role] = evaluate_patches(net, x, y, c, torch.device("cpu"))
        out["counts"] = store.counts("eval")  # type: ignore[assignment]
    return out

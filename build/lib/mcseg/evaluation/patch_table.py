"""The per-class patch error of Valvano 2019 (Table 2): on a network's validation patches, and on held-out images.

:func:`evaluate_patches` scores one network on given patches (training uses it
for validation); :func:`patch_error_table` cuts patches of each class C1-C4
from (image, ground-truth mask) pairs in the working frame, exactly as for
training, and scores both networks on a balanced sample.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mcseg.defaults import VALIDATION_PATCHES
from mcseg.networks import PatchCNN
from mcseg.patches import BalancedSampler, PatchClass, PatchStore, add_case_to_store
from mcseg.pipeline import Pipeline


def evaluate_patches(model: PatchCNN, x: np.ndarray, y: np.ndarray, classes: np.ndarray,
                     device: torch.device, batch_size: int = 1024) -> dict[str, Any]:
    """Loss, accuracy and error rate per patch class (Valvano 2019 Table 2)."""
    model.eval()
    logits = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            logits.append(model(torch.from_numpy(x[s : s + batch_size]).to(device)).cpu())
    out = torch.cat(logits)
    target = torch.from_numpy(y)
    loss = float(F.cross_entropy(out, target))
    pred = out.argmax(1).numpy()
    wrong = pred != y
    per_class = {c.name: round(float(wrong[classes == c].mean()) * 100, 3)
                 for c in PatchClass if (classes == c).any()}
    return {"loss": round(loss, 5), "accuracy": round(float(1 - wrong.mean()) * 100, 3),
            "error_rate_pct": per_class, "patches": int(len(y))}


def patch_error_table(
    cases: list[tuple[Path, np.ndarray]],
    pipeline: Pipeline,
    spacing_mm: float | None = None,
    patches: int = VALIDATION_PATCHES,
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

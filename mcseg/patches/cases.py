"""One labelled case into the patch store: read the image, go to the working frame, store its patches.

Training, retraining from saved labels and the evaluation's per-class table
all cut their patches this way, so they see the same frame and classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcseg.io.reader import Mammogram, read_mammogram
from mcseg.patches.store import PatchStore
from mcseg.preprocess import to_working_frame


def add_case_to_store(
    store: PatchStore,
    image_path: str | Path,
    label: np.ndarray,
    image_id: str,
    split: str,
    rng: np.random.Generator,
    working_spacing_mm: float,
    spacing_mm: float | None = None,
    mammo: Mammogram | None = None,
) -> dict[str, int]:
    """Read one image (unless the caller has read it: ``mammo``), bring image and label to the working
    frame, store its patches (per-class counts)."""
    if mammo is None:
        mammo = read_mammogram(image_path, spacing_mm=spacing_mm)
    frame = to_working_frame(mammo, working_spacing_mm)
    mask = frame.mask_to_working(label)
    return store.add_image(image_id, frame.image, frame.breast, mask, rng, split=split)

"""Hard-negative mining (bootstrapping) between training rounds.

Ours, not in Valvano 2019. Balanced minibatches teach a network the two
classes at a 50/50 prior, but in a mammogram a calcification pixel is one in
~10^4, so the rare tissue patterns that look like one (dense-tissue texture,
vessel crossings, the skin line) decide the false-positive rate. Running the
trained networks on the training images and storing their false positives as
a separate negative group (kind ``mined-detector`` / ``mined-segmentator``)
for a second round is the classic remedy (Sung and Poggio 1998).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from mcseg.defaults import MINED_PER_IMAGE
from mcseg.io.labels import read_label
from mcseg.io.reader import read_mammogram
from mcseg.patches import PatchClass, PatchStore, patch_class_map
from mcseg.pipeline import Pipeline
from mcseg.training.data import LabelledCase


def mine_hard_negatives(
    store: PatchStore,
    cases: list[LabelledCase],
    pipeline: Pipeline,
    spacing_mm: float | None = None,
    per_image: int = MINED_PER_IMAGE,
    progress: bool = True,
) -> dict[str, int]:
    """Add the pipeline's false positives on ``cases`` to the store; returns how many per role.

    A detector false positive is a flagged window with no calcification pixel;
    a segmentator false positive is a pixel at or above the operating threshold
    outside the calcifications. Rounds accumulate: earlier rounds' hard
    negatives stay in the store.
    """
    totals = {"detector": 0, "segmentator": 0}
    n = pipeline.detector.patch_size_px
    for case in tqdm(cases, desc="mining hard negatives", unit="image", disable=not progress):
        image_id = case.image_id
        split = store.split_of(image_id)
        if split is None:
            continue
        frame = pipeline.prepare(read_mammogram(case.image_path, spacing_mm=spacing_mm))
        mask = frame.mask_to_working(read_label(case.label_path))
        classes = patch_class_map(mask, n)
        det = pipeline.detect(frame)
        centres = det.top_left + n // 2
        centres = np.minimum(centres, np.array(frame.image.shape) - 1)
        wrong = det.flagged & (classes[centres[:, 0], centres[:, 1]] == PatchClass.C4)
        # A window is negative only if it holds no calcification at all.
        window_has_mc = np.array([mask[r : r + n, c : c + n].any() for r, c in det.top_left[wrong]], bool)
        idx = np.flatnonzero(wrong)[~window_has_mc] if len(window_has_mc) else np.zeros(0, int)
        idx = idx[np.argsort(-det.scores[idx])][:per_image]
        if len(idx):
            totals["detector"] += store.add_patches(image_id, split, frame.image, centres[idx, 0], centres[idx, 1],
                                                    np.full(len(idx), PatchClass.C4), "mined-detector")
        prob = pipeline.segment(frame, pipeline.candidate_region(frame, det))
        rows, cols = np.nonzero((prob >= pipeline.config.operating_threshold) & ~mask)
        if len(rows):
            top = np.argsort(-prob[rows, cols])[:per_image]
            rows, cols = rows[top], cols[top]
            totals["segmentator"] += store.add_patches(image_id, split, frame.image, rows, cols,
                                                       classes[rows, cols], "mined-segmentator")
    return totals

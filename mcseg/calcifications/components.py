"""Stage 4: connected components of the probability map become calcifications.

Every component of the operating-threshold mask is one calcification. Below
the operating point, components of the candidate-threshold mask that hold no
calcification are listed too, with their lower score, so that a FROC curve can
be swept from one output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

#: 8-connectivity: a one-pixel-wide diagonal calcification is still one object.
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass
class Calcification:
    """One calcification in the working frame."""

    centroid_px: tuple[float, float]     # (row, col), working frame
    area_px: int
    score: float                         # highest segmentator probability in it
    bbox_px: tuple[int, int, int, int]   # r0, c0, r1, c1 (exclusive ends)
    above_operating: bool


def find_calcifications(
    prob: np.ndarray, operating_threshold: float, candidate_threshold: float
) -> list[Calcification]:
    """Calcifications of a probability map, strongest first."""
    found: list[Calcification] = []
    strong = prob >= operating_threshold
    found += _components(prob, strong, above=True)
    if candidate_threshold < operating_threshold:
        weak_labels, count = ndi.label(prob >= candidate_threshold, structure=EIGHT_CONNECTED)
        if count:
            # A weak component that contains a strong pixel is already listed.
            has_strong = ndi.maximum(strong, weak_labels, index=np.arange(1, count + 1))
            keep = np.flatnonzero(~np.asarray(has_strong, dtype=bool)) + 1
            weak = np.isin(weak_labels, keep)
            found += _components(prob, weak, above=False)
    found.sort(key=lambda c: -c.score)
    return found


def _components(prob: np.ndarray, mask: np.ndarray, above: bool) -> list[Calcification]:
    labels, count = ndi.label(mask, structure=EIGHT_CONNECTED)
    if count == 0:
        return []
    index = np.arange(1, count + 1)
    centroids = ndi.center_of_mass(mask, labels, index)
    areas = ndi.sum_labels(mask, labels, index)
    scores = ndi.maximum(prob, labels, index)
    boxes = ndi.find_objects(labels)
    return [
        Calcification(
            centroid_px=(float(cen[0]), float(cen[1])),
            area_px=int(area),
            score=float(score),
            bbox_px=(box[0].start, box[1].start, box[0].stop, box[1].stop),
            above_operating=above,
        )
        for cen, area, score, box in zip(centroids, areas, scores, boxes)
    ]

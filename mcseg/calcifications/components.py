"""Stage 4: connected components of the probability map become calcifications.

Every component of the operating-threshold mask is one calcification, once
fragments closer than ``fragment_gap_px`` are grouped: a calcification whose
middle falls just under the threshold would otherwise be listed twice, and its
second half counted as a false positive. Below the operating point, components
of the candidate-threshold mask away from the calcifications are listed too,
with their lower score, so that a FROC curve can be swept from one output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import flood

from mcseg.defaults import CANDIDATE_RIM_MM, FRAGMENT_GAP_MM, WORKING_SPACING_MM

#: How far a sub-threshold peak must rise above the way to a higher one to be a candidate of its own
#: (with a peak separation; ours: a twentieth of the probability scale, so texture ripples are not).
PEAK_PROMINENCE = 0.05
#: Peak candidates are looked for only at this probability and above; weaker regions keep one candidate
#: at their peak. Ours (issue 15): on the 90 images of scripts/train_fine_classifier.sh every peak
#: listed, 72% of the peak candidates lay below 0.3 and 9 of their 2,190 hits, and the classifier
#: refitted on them kept none of those at its operating threshold (benchmarks/peak_candidates_probe.py).
PEAK_FLOOR = 0.3
#: 8-connectivity: a one-pixel-wide diagonal calcification is still one object.
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass
class Calcification:
    """One calcification in the working frame."""

    centroid_px: tuple[float, float]     # (row, col), working frame; the peak for sub-threshold candidates
    area_px: int
    score: float                         # highest segmentator probability in it
    bbox_px: tuple[int, int, int, int]   # r0, c0, r1, c1 (exclusive ends)
    above_operating: bool
    #: The segmentator's score when a candidate classifier rescored it (``score`` is then the classifier's).
    segmentator_score: float | None = None
    #: Where a peak candidate's features are measured (working frame); None: at the box's highest pixel.
    peak_px: tuple[int, int] | None = None


def find_calcifications(
    prob: np.ndarray,
    operating_threshold: float,
    candidate_threshold: float,
    fragment_gap_px: int = round(FRAGMENT_GAP_MM / WORKING_SPACING_MM),
    candidate_rim_px: int = round(CANDIDATE_RIM_MM / WORKING_SPACING_MM),
    peak_separation_px: int | None = None,
) -> list[Calcification]:
    """Calcifications of a probability map, strongest first.

    Components at most ``fragment_gap_px`` background pixels apart (rounded up to
    an even number) count as one calcification; sub-threshold candidates are looked for only farther than
    ``candidate_rim_px`` from every calcification: one per connected region (its peak), or with
    ``peak_separation_px`` every local maximum at least that far from a higher one.
    """
    # Work on the bounding box of the candidates: the map is zero outside the
    # flagged windows, and labelling a whole mammogram costs seconds.
    rows = np.flatnonzero((prob >= candidate_threshold).any(axis=1))
    if len(rows) == 0:
        return []
    cols = np.flatnonzero((prob[rows[0] : rows[-1] + 1] >= candidate_threshold).any(axis=0))
    margin = candidate_rim_px + fragment_gap_px + 1
    r0, c0 = max(rows[0] - margin, 0), max(cols[0] - margin, 0)
    crop = prob[r0 : rows[-1] + margin + 1, c0 : cols[-1] + margin + 1]
    found = _find(crop, operating_threshold, candidate_threshold, fragment_gap_px, candidate_rim_px,
                  peak_separation_px)
    for c in found:
        c.centroid_px = (c.centroid_px[0] + r0, c.centroid_px[1] + c0)
        b = c.bbox_px
        c.bbox_px = (b[0] + r0, b[1] + c0, b[2] + r0, b[3] + c0)
        if c.peak_px is not None:
            c.peak_px = (c.peak_px[0] + r0, c.peak_px[1] + c0)
    return found


def _find(prob: np.ndarray, operating_threshold: float, candidate_threshold: float, fragment_gap_px: int,
          candidate_rim_px: int, peak_separation_px: int | None = None) -> list[Calcification]:
    found: list[Calcification] = []
    strong = prob >= operating_threshold
    found += _components(prob, strong, fragment_gap_px, above=True)
    if candidate_threshold < operating_threshold:
        # Below the operating point: what remains of the candidate-level mask
        # once each calcification and a rim around it are removed. A weak
        # blob that touches a strong one is not dropped whole, so neighbours
        # merged at the low threshold stay separate candidates, and the FROC
        # curve does not depend on where the operating point sits.
        rim = ndi.binary_dilation(strong, structure=EIGHT_CONNECTED, iterations=candidate_rim_px) \
            if candidate_rim_px else strong
        weak = (prob >= candidate_threshold) & ~rim
        found += (_components(prob, weak, fragment_gap_px, above=False) if peak_separation_px is None
                  else _peaks(prob, weak, peak_separation_px, fragment_gap_px))
    found.sort(key=lambda c: -c.score)
    return found


def _regions(mask: np.ndarray, fragment_gap_px: int) -> tuple[np.ndarray, int]:
    """Labels of ``mask``'s regions, fragments at most ``fragment_gap_px`` apart grouped."""
    if fragment_gap_px > 0:
        # Label the mask grown by half the gap on each side, then keep only the
        # mask's own pixels: fragments group, areas and centroids stay exact.
        grown = ndi.binary_dilation(mask, structure=EIGHT_CONNECTED, iterations=(fragment_gap_px + 1) // 2)
        labels, count = ndi.label(grown, structure=EIGHT_CONNECTED)
        labels[~mask] = 0
        return labels, count
    return ndi.label(mask, structure=EIGHT_CONNECTED)


def _components(prob: np.ndarray, mask: np.ndarray, fragment_gap_px: int, above: bool,
                labelled: tuple[np.ndarray, int] | None = None) -> list[Calcification]:
    labels, count = labelled or _regions(mask, fragment_gap_px)
    if count == 0:
        return []
    # Measure on the labelled pixels alone: scipy's per-label maximum and its
    # position sort every value they are given, seconds on a whole mammogram.
    flat = np.flatnonzero(labels)
    label_of = labels.ravel()[flat]
    value_of = prob.ravel()[flat]
    index = np.arange(1, count + 1)
    areas = np.bincount(label_of, minlength=count + 1)[1:]
    scores = ndi.maximum(value_of, label_of, index)
    if above:
        rows, cols = np.divmod(flat, prob.shape[1])
        centroids = zip(np.bincount(label_of, rows, count + 1)[1:] / areas,
                        np.bincount(label_of, cols, count + 1)[1:] / areas)
    else:
        # A low-threshold blob spreads into the texture around a faint
        # calcification: its centroid wanders, its probability peak does not.
        peaks = flat[np.asarray(ndi.maximum_position(value_of, label_of, index)).ravel()]
        centroids = zip(*np.divmod(peaks, prob.shape[1]))
    boxes = ndi.find_objects(labels)  # every label keeps mask pixels: no None
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


def _peaks(prob: np.ndarray, mask: np.ndarray, separation_px: int, fragment_gap_px: int,
           floor: float = PEAK_FLOOR) -> list[Calcification]:
    """Sub-threshold candidates by peak: in each region of ``mask`` that reaches ``floor``, every local
    maximum of at least ``floor`` that rises PEAK_PROMINENCE above the way to a higher one (skimage's
    h-maxima: a ridge or plateau gives none) and lies at least ``separation_px`` from a higher one
    (peak_local_max); its area is the blob at half its peak around it. Regions that stay below
    ``floor`` keep one candidate at their peak, as :func:`_components` lists them. Only those regions
    are searched: on a film the mask covers much of the breast, and h-maxima over all of it costs
    more than the segmentator."""
    from skimage.feature import peak_local_max
    from skimage.morphology import h_maxima

    labels, count = _regions(mask, fragment_gap_px)
    regions = _components(prob, mask, fragment_gap_px, above=False, labelled=(labels, count))
    out = [c for c in regions if c.score < floor]
    for label, region in enumerate(regions, start=1):  # _components lists the regions in label order
        if region.score < floor:
            continue
        r0, c0, r1, c1 = region.bbox_px
        inside = np.where(labels[r0:r1, c0:c1] == label, prob[r0:r1, c0:c1], 0).astype(np.float64)
        prominent = h_maxima(inside, PEAK_PROMINENCE).astype(bool) & (inside >= floor)
        for r, c in peak_local_max(inside, min_distance=separation_px, labels=prominent.astype(np.int32),
                                   exclude_border=False):
            calc = Calcification(centroid_px=(float(r0 + r), float(c0 + c)), area_px=0,
                                 score=float(inside[r, c]), bbox_px=region.bbox_px, above_operating=False,
                                 peak_px=(int(r0 + r), int(c0 + c)))
            calc.area_px = int(peak_blob(prob, calc, calc.score / 2)[1].sum())
            out.append(calc)
    return out


def peak_blob(prob: np.ndarray, calc: Calcification, level: float) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The 8-connected blob of ``prob >= level`` inside ``calc``'s bounding box that holds its peak
    (the centroid of a sub-threshold candidate): the blob's own bounding box and its pixels there.

    A sub-threshold candidate is a component of the low candidate-level mask, which on busy tissue
    can spread over square centimetres of texture; what a reader would outline is the blob
    around its peak."""
    r0, c0, r1, c1 = calc.bbox_px
    above = prob[r0:r1, c0:c1] >= level
    peak = (int(round(calc.centroid_px[0])) - r0, int(round(calc.centroid_px[1])) - c0)
    if not (0 <= peak[0] < above.shape[0] and 0 <= peak[1] < above.shape[1]) or not above[peak]:
        peak = np.unravel_index(int(np.argmax(prob[r0:r1, c0:c1])), above.shape)
    if not above[peak]:
        return calc.bbox_px, above  # nothing reaches the level
    own = flood(above, peak, connectivity=2)  # connectivity 2: the 8-neighbourhood
    rows, cols = np.flatnonzero(own.any(axis=1)), np.flatnonzero(own.any(axis=0))
    box = (r0 + int(rows[0]), c0 + int(cols[0]), r0 + int(rows[-1]) + 1, c0 + int(cols[-1]) + 1)
    return box, own[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

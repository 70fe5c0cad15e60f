"""Calcification matching and FROC on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mcseg.evaluation import froc, match_calcifications, pixel_dice


def _truth():
    mask = np.zeros((100, 100), bool)
    mask[20:23, 20:23] = True   # centre (21, 21)
    mask[60:62, 70:72] = True   # centre (60.5, 70.5)
    return mask


def test_perfect_prediction():
    m = match_calcifications([[21, 21], [60.5, 70.5]], [0.9, 0.8], _truth(), (0.1, 0.1))
    assert m.hits.tolist() == [True, True] and m.n_truth == 2


def test_shift_within_and_beyond_the_hit_radius():
    # 0.1 mm pixels: 4 px = 0.4 mm is a hit; 8 px = 0.8 mm from the centre and
    # more than 0.25 mm outside the region is not.
    m = match_calcifications([[25, 21], [60.5, 80]], [0.9, 0.8], _truth(), (0.1, 0.1))
    assert m.hits.tolist() == [True, False]


def test_each_truth_matched_once_greedily_by_score():
    m = match_calcifications([[21, 21], [21.5, 21]], [0.5, 0.9], _truth(), (0.1, 0.1))
    assert m.hits.tolist() == [False, True]


def test_froc_counts_false_positives_over_all_images():
    hit = match_calcifications([[21, 21], [90, 90]], [0.9, 0.7], _truth(), (0.1, 0.1))
    negative = match_calcifications([[50, 50]], [0.8], np.zeros((100, 100), bool), (0.1, 0.1))
    curve = froc([hit, negative])
    assert curve.n_truth == 2 and curve.n_images == 2
    assert curve.sensitivity_at(0) == 0.5           # the 0.9 hit comes first
    assert curve.sensitivity_at(1.0) == 0.5         # two false positives over two images
    assert curve.fppi[-1] == pytest.approx(1.0)


def test_dice():
    a = _truth()
    assert pixel_dice(a, a) == 1.0
    assert pixel_dice(a, np.zeros_like(a)) == 0.0
    assert pixel_dice(np.zeros_like(a), np.zeros_like(a)) == 1.0

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


def test_paired_bootstrap_of_a_difference_between_two_arms():
    from mcseg.evaluation import ImageMatch, bootstrap_difference

    rng = np.random.default_rng(1)
    images = []
    for _ in range(20):  # 10 calcifications per image, every one found, and 10 false positives
        hits = np.r_[np.ones(10, bool), np.zeros(10, bool)]
        images.append((rng.random(20), hits))
    same = [ImageMatch(s, h, 10) for s, h in images]
    assert bootstrap_difference(same, same, (1.0,), n_boot=200)["1"] == {"difference": 0.0, "ci95": [0.0, 0.0]}
    # arm a ranks every calcification above every false positive, arm b at random
    better = [ImageMatch(np.where(h, 1.0 + s, s), h, 10) for s, h in images]
    out = bootstrap_difference(better, same, (0.25, 1.0), n_boot=200)["1"]
    assert out["difference"] > 0.3 and out["ci95"][0] > 0.2
    with pytest.raises(ValueError):
        bootstrap_difference(better, same[:5], (1.0,))

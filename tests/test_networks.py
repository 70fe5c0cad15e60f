"""The patch CNN: shapes of both variants, dense against reference agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import randomise_batch_norm

from mcseg.defaults import NetworkConfig
from mcseg.networks import PatchCNN, feature_size
from mcseg.patches.symmetry import D4, apply_symmetry, undo_symmetry
from mcseg.segmentator import segment, segment_dense, segment_reference


@pytest.mark.parametrize("n", [29, 39, 49])
def test_same_variant_shapes(n):
    model = PatchCNN(NetworkConfig(patch_size_px=n, padding="same")).eval()
    assert model(torch.zeros(3, 1, n, n)).shape == (3, 2)
    assert feature_size(n, "same") == n // 4


def test_valid_variant_shapes():
    model = PatchCNN(NetworkConfig(patch_size_px=49, padding="valid")).eval()
    assert feature_size(49, "valid") == 2  # 49 -> 2 x 2 features, as the paper says
    assert model(torch.zeros(3, 1, 49, 49)).shape == (3, 2)
    with pytest.raises(ValueError, match="larger patch"):
        PatchCNN(NetworkConfig(patch_size_px=29, padding="valid"))


def test_paper_architecture():
    model = PatchCNN(NetworkConfig())
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in convs)
    assert model.fc1.out_features == 64 and model.fc2.out_features == 2 and model.dropout.p == 0.5


def test_dense_path_equals_reference_path():
    model = randomise_batch_norm(PatchCNN(NetworkConfig(padding="valid")))
    rng = np.random.default_rng(0)
    image = rng.normal(size=(160, 140)).astype(np.float32)
    image[60:64, 70:73] += 6  # a bright spot so both classes occur
    region = np.zeros(image.shape, bool)
    region[10:150, 5:135] = True  # includes pixels whose patches reach past the border
    fast = segment_dense(model, image, region)
    slow = segment_reference(model, image, region)
    assert np.abs(fast - slow)[region].max() < 1e-4
    decided = (fast >= 0.5)[region]
    assert np.array_equal(decided, (slow >= 0.5)[region])
    assert 0 < decided.sum() < decided.size, "both decisions should occur"
    assert (fast[~region] == 0).all()


def test_symmetries_undo_and_group():
    a = np.arange(12).reshape(3, 4)
    seen = set()
    for k, mirror in D4:
        b = apply_symmetry(a, k, mirror)
        assert np.array_equal(undo_symmetry(b, k, mirror), a)
        seen.add(b.tobytes() + bytes(b.shape))
    assert len(seen) == 8  # eight different images: the whole group, no repeats


def test_averaging_over_all_symmetries_makes_the_segmentator_invariant():
    model = randomise_batch_norm(PatchCNN(NetworkConfig(padding="valid")))
    rng = np.random.default_rng(1)
    image = rng.normal(size=(90, 76)).astype(np.float32)
    image[40:43, 30:32] += 5
    region = np.zeros(image.shape, bool)
    region[20:70, 15:60] = True
    one = segment(model, image, region, symmetries=1)
    assert np.array_equal(one, segment_dense(model, image, region))
    turned = (apply_symmetry(image, 1, True).copy(), apply_symmetry(region, 1, True).copy())
    # One view: a random network is not rotation invariant, so turning the input changes the output...
    assert np.abs(undo_symmetry(segment(model, *turned, symmetries=1), 1, True) - one).max() > 1e-3
    # ...averaged over the whole group it is, to float precision.
    avg = segment(model, image, region, symmetries=8)
    assert np.abs(undo_symmetry(segment(model, *turned, symmetries=8), 1, True) - avg).max() < 1e-5
    assert (avg[~region] == 0).all()
    with pytest.raises(ValueError, match="symmetries"):
        segment(model, image, region, symmetries=9)


def test_refining_only_above_a_probability_keeps_the_full_average_there():
    """Selective test-time augmentation: all 8 views where the first reaches the bar, the first elsewhere."""
    from mcseg.segmentator.inference import segment_with_spread

    model = randomise_batch_norm(PatchCNN(NetworkConfig(padding="valid")))
    rng = np.random.default_rng(2)
    image = rng.normal(size=(90, 76)).astype(np.float32)
    region = np.zeros(image.shape, bool)
    region[20:70, 15:60] = True
    first, _ = segment_with_spread(model, image, region, symmetries=1)
    full, full_spread = segment_with_spread(model, image, region, symmetries=8)
    bar = float(np.median(first[region]))
    part, part_spread = segment_with_spread(model, image, region, symmetries=8, refine_above=bar)
    refined = region & (first >= bar)
    assert 0 < refined.sum() < region.sum()
    assert np.abs(part[refined] - full[refined]).max() < 1e-5
    assert np.abs(part_spread[refined] - full_spread[refined]).max() < 1e-5
    assert np.array_equal(part[region & ~refined], first[region & ~refined])
    assert (part_spread[region & ~refined] == 0).all() and (part[~region] == 0).all()


def test_a_time_budget_stops_the_further_views_and_averages_those_that_ran(monkeypatch):
    """A further view starts only if the previous one's time fits before the deadline; the result is
    then the average of the views that ran, exactly as if only those had been asked for."""
    import mcseg.segmentator.inference as inference

    model = randomise_batch_norm(PatchCNN(NetworkConfig(padding="valid")))
    image = np.random.default_rng(3).normal(size=(80, 70)).astype(np.float32)
    region = np.zeros(image.shape, bool)
    region[20:60, 15:55] = True
    three, three_spread = inference.segment_with_spread(model, image, region, symmetries=3)
    first, _ = inference.segment_with_spread(model, image, region, symmetries=1)

    class Clock:  # every reading one second later: each view "takes" a known time
        now = 0.0

        def perf_counter(self):
            self.now += 1.0
            return self.now

    monkeypatch.setattr(inference, "time", Clock())
    views = {}
    # Readings: 1 start, 2 after view 1 (1 s), 3 check (3 + 1 <= 6.5), 4 start, 5 after view 2,
    # 6 after view 3 (6 + 1 > 6.5: stop).
    mean, spread = inference.segment_with_spread(model, image, region, symmetries=8, deadline=6.5, views_run=views)
    assert views == {"run": 3, "of": 8}
    assert np.array_equal(mean, three) and np.array_equal(spread, three_spread)
    # A deadline already past: the first view alone, no spread.
    monkeypatch.setattr(inference, "time", Clock())
    mean, spread = inference.segment_with_spread(model, image, region, symmetries=8, deadline=0.0, views_run=views)
    assert views == {"run": 1, "of": 8} and spread is None and np.array_equal(mean, first)


def test_dense_refuses_a_same_network():
    model = PatchCNN(NetworkConfig(padding="same")).eval()
    with pytest.raises(ValueError, match="valid"):
        segment_dense(model, np.zeros((60, 60), np.float32), np.ones((60, 60), bool))


def test_checkpoint_round_trip(tmp_path):
    model = randomise_batch_norm(PatchCNN(NetworkConfig(padding="valid")))
    torch.save(model.checkpoint(role="segmentator"), tmp_path / "s.pt")
    loaded = PatchCNN.from_checkpoint(torch.load(tmp_path / "s.pt", weights_only=True))
    x = torch.randn(4, 1, 49, 49)
    assert torch.allclose(model(x), loaded(x))


def test_window_budget_keeps_the_highest_scoring_windows():
    from mcseg.detector import DetectorResult

    scores = np.array([0.9, 0.2, 0.8, 0.95, 0.5, 0.1, 0.7, 0.35], np.float32)
    det = DetectorResult(np.zeros((8, 2), int), scores, 49, threshold=0.3)
    assert det.within_budget(1.0) is det and det.within_budget(0.75) is det  # 6 above, cap 6
    kept = det.within_budget(0.25)  # cap 2 of 8
    assert np.flatnonzero(kept.flagged).tolist() == [0, 3]
    assert kept.summary() == {"windows": 8, "above_threshold": 6, "segmented": 2, "skipped_over_budget": 4}
    assert det.summary()["skipped_over_budget"] == 0

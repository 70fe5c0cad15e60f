"""Patch classes C1-C4, the SQLite store and its balanced minibatches."""

from __future__ import annotations

import numpy as np
import pytest

from mcseg.patches import (
    BalancedSampler,
    PatchClass,
    PatchStore,
    dihedral_augment,
    extract_patches,
    patch_class,
    patch_class_map,
)

N = 49


def _one_calcification(shape=(120, 120), at=(60, 60)):
    mask = np.zeros(shape, bool)
    mask[at] = True
    return mask


@pytest.mark.parametrize(
    "offset, expected",
    [
        ((0, 0), PatchClass.C1),   # centre on the calcification
        ((2, 0), PatchClass.C2),   # 2 px away
        ((3, 0), PatchClass.C2),   # 3 px away: still "2 to 3 pixels from the centre"
        ((2, 2), PatchClass.C2),   # 2.83 px
        ((3, 1), PatchClass.C3),   # 3.16 px: beyond C2
        ((24, 24), PatchClass.C3),  # in the patch's corner pixel
        ((25, 0), PatchClass.C4),  # just outside the 49 px patch
    ],
)
def test_classes_on_a_hand_made_mask(offset, expected):
    mask = _one_calcification()
    r, c = 60 - offset[0], 60 - offset[1]
    assert patch_class(mask, r, c, N) == expected
    assert patch_class_map(mask, N)[r, c] == expected


def test_class_map_equals_literal_definition():
    rng = np.random.default_rng(1)
    mask = np.zeros((150, 150), bool)
    for r, c in rng.integers(10, 140, size=(6, 2)):
        mask[r : r + rng.integers(1, 5), c : c + rng.integers(1, 4)] = True
    classes = patch_class_map(mask, N)
    for r, c in rng.integers(0, 150, size=(300, 2)):
        assert classes[r, c] == patch_class(mask, r, c, N)
    assert set(np.unique(classes)) == {1, 2, 3, 4}


def test_empty_mask_is_all_c4():
    assert (patch_class_map(np.zeros((80, 80), bool), N) == PatchClass.C4).all()


def _store_with_image(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(300, 300)).astype(np.float32)
    breast = np.zeros((300, 300), bool)
    breast[20:280, 20:280] = True
    mask = np.zeros((300, 300), bool)
    for r, c in [(80, 80), (150, 200), (220, 120)]:
        mask[r - 2 : r + 3, c - 2 : c + 3] = True
        image[mask] += 8
    store = PatchStore(tmp_path / "p.sqlite", N)
    counts = store.add_image("img1", image, breast, mask, rng, split="train")
    store.add_image("img2", image, breast, mask, rng, split="val")
    return store, counts, image, mask


def test_store_counts_and_replacement(tmp_path):
    store, counts, image, mask = _store_with_image(tmp_path)
    assert counts["C1"] == 150  # two draws per calcified pixel (3 x 25), below the per-image cap
    assert counts["C2"] > 0 and counts["C3"] > 0 and counts["C4"] > 0
    assert store.counts("train") == counts
    # Re-annotating an image replaces its patches instead of adding to them.
    store.add_image("img1", image, np.ones_like(mask), np.zeros_like(mask), np.random.default_rng(3))
    assert store.counts("train")["C1"] == 0
    assert store.image_ids() == ["img1", "img2"]


def test_small_calcifications_get_a_fair_share_of_c1_and_c2_patches():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(300, 300)).astype(np.float32)
    mask = np.zeros((300, 300), bool)
    mask[60:80, 60:80] = True             # a large calcification: 400 px
    specks = [(200, 200), (240, 60), (60, 240), (250, 250)]
    for r, c in specks:                   # four one-pixel specks
        mask[r, c] = True
    patches = extract_patches(image, np.ones_like(mask), mask, rng, N, {"C1": 100, "C2": 100})
    c1 = patches.classes == PatchClass.C1
    on_specks = sum(int(((patches.rows == r) & (patches.cols == c) & c1).sum()) for r, c in specks)
    # Drawn per pixel, the specks would get 4/404 of the draws (about 1 of 100);
    # half per calcification gives them about 0.5 * 4/5 + 0.5 * 4/404 = 41%.
    assert c1.sum() == 100 and 25 <= on_specks <= 60
    c2 = patches.classes == PatchClass.C2
    near_specks = int((c2 & ((patches.rows > 150) | (patches.cols > 150))).sum())
    # The specks own 112 of the ~380 C2 pixels: 29% per pixel, 55% half per calcification.
    assert c2.sum() == 100 and near_specks >= 42


def test_stored_patches_are_centred_on_their_pixel(tmp_path):
    store, _, image, mask = _store_with_image(tmp_path)
    ids = store.ids_by_class("train")[PatchClass.C1][:5]
    pixels, classes = store.fetch(ids)
    assert (classes == PatchClass.C1).all()
    # The centre of a C1 patch is a bright calcification pixel of the image.
    assert (pixels[:, N // 2, N // 2] > 5).all()


@pytest.mark.parametrize("role", ["detector", "segmentator"])
def test_minibatches_are_balanced(tmp_path, role):
    store, *_ = _store_with_image(tmp_path)
    sampler = BalancedSampler(store, role, "train", np.random.default_rng(0))
    x, y, classes = sampler.batch(4000)
    assert x.shape == (4000, 1, N, N)
    assert abs(y.mean() - 0.5) < 0.03
    if role == "segmentator":
        assert abs((classes == 1).mean() - 0.5) < 0.03
        for c in (2, 3, 4):
            assert abs((classes == c).mean() - 1 / 6) < 0.03
    else:
        assert abs((classes == 4).mean() - 0.5) < 0.03


def test_augmentation_keeps_the_patch_class():
    rng = np.random.default_rng(0)
    mask = np.zeros((N, N), np.float32)
    mask[N // 2 - 3, N // 2 + 1] = 1  # an off-centre C2 calcification
    before = patch_class(mask > 0, N // 2, N // 2, N)
    out = dihedral_augment(np.repeat(mask[None], 16, 0), rng)
    assert {patch_class(o > 0, N // 2, N // 2, N) for o in out} == {before}
    assert len({o.tobytes() for o in out}) > 1  # it did transform


def test_store_refuses_another_patch_size(tmp_path):
    PatchStore(tmp_path / "p.sqlite", 49)
    with pytest.raises(ValueError, match="49 px"):
        PatchStore(tmp_path / "p.sqlite", 29)


def test_mined_negatives_take_their_share(tmp_path):
    store, _, image, mask = _store_with_image(tmp_path)
    rows, cols = np.array([100, 110, 120]), np.array([40, 50, 60])
    store.add_patches("img1", "train", image, rows, cols, np.full(3, PatchClass.C4), "mined-segmentator")
    sampler = BalancedSampler(store, "segmentator", "train", np.random.default_rng(0), mined_share=0.25)
    assert abs(sum(sampler.shares.values()) - 1) < 1e-9
    assert sampler.shares["mined"] == 0.25 and abs(sampler.shares[1] - 0.5) < 1e-9
    x, y, classes = sampler.batch(2000)
    assert abs(y.mean() - 0.5) < 0.04
    # The mined pool is not mixed into the sampled C4 pool, and the detector ignores it.
    assert len(store.ids_by_class("train")[PatchClass.C4]) == store.counts("train")["C4"] - 3
    assert "mined" not in BalancedSampler(store, "detector", "train").shares

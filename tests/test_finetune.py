"""Retraining from saved labels: store refresh, split stability, fine-tune and atomic publish."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from mcseg.defaults import NetworkConfig, TrainConfig
from mcseg.networks import PatchCNN
from mcseg.patches import PatchStore
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.training import LabelledCase, assign_splits, find_cases, split_for
from mcseg.training.finetune import check_trainable, finetune_network, refresh_store, validation_split


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cases")
    generate_dataset(folder, 3, seed=7, config=SynthConfig(shape_px=(400, 360)), progress=False)
    return [LabelledCase(c.image_path.name.split(".")[0], c.image_path, c.label_path) for c in find_cases(folder)]


def test_split_is_pinned_and_roughly_a_fifth():
    # Pinned: a change of the hash or the percentage would move images between
    # splits and silently change which images calibrate and validate.
    ids = [f"image_{i}" for i in range(12)]
    assert [i for i in ids if split_for(i) == "val"] == ["image_6", "image_11"]
    assert 0.15 < np.mean([split_for(f"x{i}") == "val" for i in range(2000)]) < 0.25


def test_a_set_without_a_held_out_image_gets_one():
    assert split_for("image_0") == split_for("image_1") == "train"
    assert assign_splits(["image_0", "image_1"]) == {"image_0": "train", "image_1": "val"}
    assert assign_splits(["image_0"]) == {"image_0": "train"}  # one image: nothing to hold out
    assert assign_splits(["image_0", "image_6"]) == {"image_0": "train", "image_6": "val"}


def test_refresh_reads_only_new_labels_and_drops_withdrawn_ones(tmp_path, cases):
    store = PatchStore(tmp_path / "p.sqlite")
    first = refresh_store(store, cases, 0.07, progress=False)
    assert sorted(first.added) == sorted(c.image_id for c in cases) and not first.unchanged
    again = refresh_store(store, cases, 0.07, progress=False)
    assert not again.added and len(again.unchanged) == len(cases)

    # A corrected label (newer file) is re-read; a withdrawn one loses its patches.
    time.sleep(0.05)
    os.utime(cases[0].label_path)
    third = refresh_store(store, cases[:2], 0.07, progress=False)
    assert third.added == [cases[0].image_id] and third.removed == [cases[2].image_id]
    assert cases[2].image_id not in store.image_ids()


def test_bad_label_is_skipped_not_fatal(tmp_path, cases):
    wrong = tmp_path / "wrong.nrrd"
    sitk.WriteImage(sitk.Image(10, 10, sitk.sitkUInt8), str(wrong))
    bad = LabelledCase("bad", cases[0].image_path, wrong)
    store = PatchStore(tmp_path / "p.sqlite")
    out = refresh_store(store, [bad, cases[1]], 0.07, progress=False)
    assert out.added == [cases[1].image_id] and "differs" in out.skipped["bad"]


def test_empty_labels_only_cannot_train(tmp_path, cases):
    empty = tmp_path / "empty.nrrd"
    image = sitk.ReadImage(str(cases[0].label_path))
    blank = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    blank.CopyInformation(image)
    sitk.WriteImage(blank, str(empty))
    store = PatchStore(tmp_path / "p.sqlite")
    refresh_store(store, [LabelledCase("negative", cases[0].image_path, empty)], 0.07, progress=False)
    assert store.counts()["C1"] == 0 and store.counts()["C4"] > 0
    with pytest.raises(ValueError, match="no positive patches"):
        check_trainable(store, "segmentator")


def test_finetune_publishes_and_carries_the_threshold(tmp_path, cases):
    store = PatchStore(tmp_path / "p.sqlite")
    refresh_store(store, cases, 0.07, progress=False)
    start = tmp_path / "start.pt"
    torch.save(PatchCNN(NetworkConfig(padding="valid")).checkpoint(
        role="segmentator", working_spacing_mm=0.07, operating_threshold=0.77), start)
    published = tmp_path / "models" / "segmentator.pt"
    published.parent.mkdir()
    stats = finetune_network("segmentator", store, start, published,
                             TrainConfig(max_steps=6, validate_every=3, batch_size=32), progress=False)
    ckpt = torch.load(published, weights_only=True)
    assert ckpt["operating_threshold"] == 0.77 and ckpt["working_spacing_mm"] == 0.07
    assert ckpt["role"] == "segmentator" and stats["steps"] == 6
    assert stats["validated_on"].startswith(validation_split(store, "segmentator"))
    assert set(stats["patch_validation"]["error_rate_pct"]) <= {"C1", "C2", "C3", "C4"}
    assert sorted(p.name for p in published.parent.iterdir()) == ["segmentator.pt"], "work files left behind"
    with pytest.raises(ValueError, match="holds a segmentator"):
        finetune_network("detector", store, start, tmp_path / "d.pt", TrainConfig(max_steps=1), progress=False)

"""The training recipe end to end on tiny synthetic images: `mcseg train`, mining, calibration,
retraining from labels, and the per-class patch table. Step counts are tiny: these check that
every stage runs and writes what it should, not that the networks learn (test_train_end_to_end)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from mcseg.cli import main
from mcseg.defaults import NetworkConfig, PipelineConfig, TrainConfig
from mcseg.evaluation import patch_error_table
from mcseg.io import read_label
from mcseg.networks import PatchCNN
from mcseg.patches import PatchClass, PatchStore
from mcseg.fp_reduction import CLASSIFIER_FILE
from mcseg.pipeline import DEFAULT_SEGMENTATOR_WEIGHTS, Pipeline
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.training import find_cases, retrain_from_labels
from mcseg.training.calibrate import calibrate_operating_threshold
from mcseg.training.data import patch_store_path
from mcseg.training.finetune import refresh_store
from mcseg.training.mining import mine_hard_negatives

SMALL = SynthConfig(shape_px=(320, 280), contrast_range=(6.0, 15.0))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    generate_dataset(folder, 3, seed=5, config=SMALL, progress=False)
    return folder


def test_mcseg_train_runs_every_stage(tmp_path, data, capsys):
    out = tmp_path / "run"
    code = main(["train", str(data), "-o", str(out), "--steps", "4", "--validate-every", "2", "--batch-size", "16",
                 "--mining-rounds", "1", "--finetune-steps", "2", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "training.json").read_text())
    assert report["images"] == 3 and len(report["validation_images"]) == 1  # 3 images: one held out
    assert set(report["networks"]) == {"detector round 0", "segmentator round 0", "detector round 1",
                                       "segmentator round 1"}
    assert report["networks"]["segmentator round 1"]["steps"] == 2
    assert report["mined"][0]["detector"] + report["mined"][0]["segmentator"] > 0
    calibration = report["calibration"]
    assert calibration["calibrated_on"] == "validation" and calibration["images"] == 1
    seg = torch.load(out / "segmentator.pt", weights_only=True)
    assert seg["operating_threshold"] == calibration["operating_threshold"]
    assert seg["trained_with"].startswith("mcseg train") and seg["working_spacing_mm"] == 0.07
    store = PatchStore(patch_store_path(out, 49))
    assert sorted(store.image_ids()) == sorted(c.image_id for c in find_cases(data))
    assert store.image_ids("val") == report["validation_images"]
    # The trained weights run through the normal segment command.
    assert main(["segment", str(find_cases(data)[0].image_path), "-o", str(tmp_path / "seg"), "--no-progress",
                 "--detector", str(out / "detector.pt"), "--segmentator", str(out / "segmentator.pt")]) == 0


def test_train_refuses_a_patch_store_of_other_images(tmp_path, data, capsys):
    """`mcseg train` on a folder that gained images must not reuse the old store silently."""
    cases = find_cases(data)
    store = PatchStore(patch_store_path(tmp_path / "run", 49))
    refresh_store(store, cases[:2], 0.07, progress=False)  # as an interrupted or older build leaves it
    assert main(["train", str(data), "-o", str(tmp_path / "run"), "--no-progress"]) == 2
    assert "--rebuild-store" in capsys.readouterr().err
    assert sorted(store.image_ids()) == sorted(c.image_id for c in cases[:2])  # left as it was


def test_train_without_labels_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", str(tmp_path / "empty"), "-o", str(tmp_path / "run"), "--no-progress"]) == 2
    assert "no image with a label" in capsys.readouterr().err


def test_mining_stores_false_positives_as_negatives(tmp_path, data):
    cases = find_cases(data)
    store = PatchStore(tmp_path / "p.sqlite")
    refresh_store(store, cases, 0.07, progress=False)
    # An untrained pipeline with thresholds at 0 flags everything: every flagged window and
    # pixel outside the calcifications is a false positive, and mining must store them as such.
    pipeline = Pipeline(PatchCNN(NetworkConfig()), PatchCNN(NetworkConfig(padding="valid")),
                        PipelineConfig(detector_threshold=0.0, operating_threshold=0.0, segmentator_symmetries=1))
    mined = mine_hard_negatives(store, cases[:1], pipeline, per_image=50, progress=False)
    assert mined == {"detector": 50, "segmentator": 50}
    det = store.ids_by_class(store.split_of(cases[0].image_id), kind="mined-detector")
    assert len(det[PatchClass.C4]) == 50 and sum(len(v) for v in det.values()) == 50
    seg = store.ids_by_class(store.split_of(cases[0].image_id), kind="mined-segmentator")
    assert len(seg[PatchClass.C1]) == 0 and sum(len(v) for v in seg.values()) == 50


def test_calibration_keeps_false_positives_within_the_target(data):
    cases = find_cases(data)
    pipeline = Pipeline.from_weights()
    result = calibrate_operating_threshold(pipeline, cases, target_fppi=1.0, progress=False)
    assert result["fppi"] <= 1.0 and result["images"] == 3
    assert result["calcifications"] == sum(int(_components(read_label(c.label_path))) for c in cases)
    assert pipeline.config.candidate_threshold <= result["operating_threshold"] <= 0.999
    # A looser budget never needs a higher threshold.
    loose = calibrate_operating_threshold(pipeline, cases, target_fppi=20.0, progress=False)
    assert loose["operating_threshold"] <= result["operating_threshold"]
    assert loose["sensitivity"] >= result["sensitivity"]


def _components(mask: np.ndarray) -> int:
    from scipy import ndimage as ndi

    return ndi.label(mask, structure=np.ones((3, 3), bool))[1]


def test_patch_table_scores_both_networks_per_class(data):
    cases = [(c.image_path, read_label(c.label_path)) for c in find_cases(data)]
    table = patch_error_table(cases, Pipeline.from_weights(), patches=512)
    assert set(table) == {"detector", "segmentator", "counts"}
    for role in ("detector", "segmentator"):
        assert set(table[role]["error_rate_pct"]) == {"C1", "C2", "C3", "C4"} and table[role]["patches"] == 512
    # The bundled weights separate these easy synthetic calcifications far better than chance.
    assert table["detector"]["accuracy"] > 75 and table["segmentator"]["accuracy"] > 75
    assert table["counts"]["C1"] > 0 and table["counts"]["C4"] > 0


def test_retrain_from_labels_publishes_and_reports(tmp_path, data):
    cases = find_cases(data)
    published = tmp_path / "models" / "segmentator.pt"
    # A classifier left beside the published segmentator by an earlier run belongs to other networks.
    stale = published.parent / CLASSIFIER_FILE
    stale.parent.mkdir(parents=True)
    shutil.copyfile(DEFAULT_SEGMENTATOR_WEIGHTS.parent / CLASSIFIER_FILE, stale)
    stats = retrain_from_labels("segmentator", cases, Pipeline.from_weights().weights["segmentator"]["path"],
                                published, tmp_path / "train", TrainConfig(max_steps=3, validate_every=3,
                                                                           batch_size=16),
                                lambda: Pipeline.from_weights(segmentator_path=published), dice_images=2,
                                progress=False, rehearsal_images=1)
    assert published.is_file() and stats["steps"] == 3 and stats["labelled_images"] == 3
    # One generated phantom of the labels' band (none recorded: the film band) rehearsed beside them,
    # in the patch store and in the classifier's refit, but not in the site's Dice.
    assert stats["rehearsal"] == {"band": "film", "images": 1}
    rehearsed = [i for i in PatchStore(patch_store_path(tmp_path / "train", 49)).image_ids() if i.startswith("mcseg-rehearsal")]
    assert len(rehearsed) == 1
    assert not set(rehearsed) & set(stats["image_validation"]["per_image"])
    assert len(stats["image_validation"]["per_image"]) == 2
    assert stats["image_validation"]["held_out"], "the held-out image is measured first"
    assert json.loads((tmp_path / "train" / "segmentator.stats.json").read_text())["steps"] == 3
    # Refitted on the same labels for the new networks, or removed: never the stale one.
    refit = stats["candidate_classifier"]
    assert refit["images"] == 4 and refit["candidates"] > 0
    if refit["adopted"]:
        assert stale.read_bytes() != (DEFAULT_SEGMENTATOR_WEIGHTS.parent / CLASSIFIER_FILE).read_bytes()
    else:
        assert not stale.exists() and refit["why"]
    assert "candidate_classifier" not in Pipeline.from_weights(segmentator_path=published).weights \
        or refit["adopted"]
    with pytest.raises(ValueError, match="no image has a final label"):
        retrain_from_labels("segmentator", [], published, published, tmp_path / "train", TrainConfig(),
                            Pipeline.from_weights)

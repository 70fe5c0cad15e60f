"""A small train-then-segment run on synthetic data: the method learns, end to end."""

from __future__ import annotations

import pytest

from mcseg.defaults import NetworkConfig, PipelineConfig, TrainConfig
from mcseg.evaluation import match_listed
from mcseg.io import read_label, read_mammogram
from mcseg.patches import PatchStore
from mcseg.pipeline import Pipeline, load_network
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.training import find_cases, train_network
from mcseg.training.finetune import refresh_store


@pytest.mark.slow
def test_train_then_segment(tmp_path):
    config = SynthConfig(shape_px=(600, 500), contrast_range=(5.0, 15.0), n_clusters_range=(1, 1),
                         n_singles_range=(3, 5))
    generate_dataset(tmp_path / "train", 10, seed=100, config=config, progress=False)
    generate_dataset(tmp_path / "test", 3, seed=200, config=config, progress=False)

    store = PatchStore(tmp_path / "patches.sqlite")
    refresh_store(store, find_cases(tmp_path / "train"), 0.07, progress=False)
    counts = {"train": store.counts("train"), "val": store.counts("val")}
    assert counts["train"]["C1"] > 0 and counts["val"]["C1"] > 0

    train = TrainConfig(max_steps=300, batch_size=64, validate_every=50, early_stopping_patience=0)
    for role, padding in (("detector", "same"), ("segmentator", "valid")):
        result = train_network(role, store, tmp_path / f"{role}.pt", NetworkConfig(padding=padding), train,
                               {"working_spacing_mm": 0.07}, progress=False)
        assert result.validation["accuracy"] > 85, result.validation

    pipeline = Pipeline(load_network(tmp_path / "detector.pt", "detector")[0],
                        load_network(tmp_path / "segmentator.pt", "segmentator")[0], PipelineConfig())
    hits = truths = false_positives = 0
    for case in find_cases(tmp_path / "test"):
        out = pipeline.run(read_mammogram(case.image_path))
        match = match_listed(out.calcifications, read_label(case.label_path), (0.07, 0.07), in_mask_only=True)
        hits += int(match.hits.sum())
        truths += match.n_truth
        false_positives += int((~match.hits).sum())
    sensitivity = hits / truths
    # 300 steps without hard-negative mining at the 0.5 operating point: measured
    # 29 false positives per image; an untrained network finds nothing or floods.
    assert sensitivity >= 0.7, (hits, truths)
    assert false_positives / 3 <= 60, false_positives


def test_checkpoint_chosen_by_a_whole_image_score(tmp_path):
    generate_dataset(tmp_path / "data", 2, seed=7, config=SynthConfig(shape_px=(320, 280), contrast_range=(6.0, 15.0)),
                     progress=False)
    store = PatchStore(tmp_path / "patches.sqlite")
    refresh_store(store, find_cases(tmp_path / "data"), 0.07, progress=False)
    scores = iter([0.7, 0.3])
    seen = []

    def select_by(model):
        seen.append(model.training)
        return next(scores)

    config = TrainConfig(max_steps=8, batch_size=16, validate_every=2, early_stopping_patience=0,
                         validation_patches=64)
    result = train_network("segmentator", store, tmp_path / "segmentator.pt", NetworkConfig(padding="valid"), config,
                           progress=False, select_by=select_by, select_every=2)
    # Validations at steps 2, 4, 6, 8; the score is taken at every second one (4 and 8) in eval mode,
    # and the kept checkpoint is the better scored, whatever the patch loss says.
    assert seen == [False, False]
    assert [r.get("selection_score") for r in result.history] == [None, 0.7, None, 0.3]
    assert result.best_step == 4 and result.validation["selection_score"] == 0.7
    assert load_network(tmp_path / "segmentator.pt", "segmentator")[1]["step"] == 4

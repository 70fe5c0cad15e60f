"""Active-learning experiment: uncertain_c2c3 against random picking (a benchmark, not a test).

    .venv/bin/python benchmarks/active_learning.py [--pool 12] [--test 6] [--rounds 4] [--per-round 1]

A pool of fresh synthetic images plays the unlabelled datastore and their ground
truth plays the annotator's corrections. Each round a strategy picks images,
their labels enter a patch store, and the segmentator is fine-tuned from the
default weights on everything labelled so far (the detector is kept); the
result is measured on held-out test images: calcification sensitivity at 1 FP
per image and pixel Dice. Writes benchmarks/active_learning.{json,png}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mcseg.activelearning import score_image
from mcseg.defaults import TrainConfig
from mcseg.evaluation import Overlap, froc, match_listed
from mcseg.io import read_label, read_mammogram
from mcseg.io.atomic import atomic_write_text
from mcseg.patches import PatchStore
from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS, Pipeline
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.training import find_cases, split_for
from mcseg.training.finetune import finetune_network, store_case

ROOT = Path(__file__).resolve().parent.parent


def measure(pipeline: Pipeline, cases) -> dict:
    matches, pooled = [], Overlap()
    for case in cases:
        truth = read_label(case.label_path)
        result = pipeline.run(read_mammogram(case.image_path))
        matches.append(match_listed(result.calcifications, truth, result.mammogram.spacing_mm))
        pooled = pooled + Overlap.of(result.mask, truth)
    return {"sensitivity_at_1_fppi": round(froc(matches).sensitivity_at(1.0), 4), "dice": round(pooled.dice, 4)}


def run_strategy(name, pool, test, rounds, per_round, steps, work: Path, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    store = PatchStore(work / f"{name}.sqlite")
    published = work / f"{name}-segmentator.pt"
    labelled: list[str] = []
    pipeline = Pipeline.from_weights()
    curve = [{"labelled": 0, **measure(pipeline, test)}]
    for r in range(rounds):
        unlabelled = [c for c in pool if c.image_id not in labelled]
        if name == "random":
            picks = [unlabelled[i] for i in rng.choice(len(unlabelled), size=per_round, replace=False)]
        else:
            scores = [score_image(pipeline, read_mammogram(c.image_path)).score for c in
                      tqdm(unlabelled, desc=f"{name} round {r + 1}: scoring", unit="image", leave=False)]
            picks = [unlabelled[i] for i in np.argsort(scores)[::-1][:per_round]]
        for case in picks:
            store_case(store, case, split_for(case.image_id), pipeline.config.working_spacing_mm)
            labelled.append(case.image_id)
        finetune_network("segmentator", store, DEFAULT_SEGMENTATOR_WEIGHTS, published,
                         TrainConfig(max_steps=steps, validate_every=max(steps // 4, 1), early_stopping_patience=0,
                                     seed=seed), progress=False)
        pipeline = Pipeline.from_weights(DEFAULT_DETECTOR_WEIGHTS, published)
        curve.append({"labelled": len(labelled), "picked": [p.image_id for p in picks], **measure(pipeline, test)})
        print(name, curve[-1])
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=12)
    parser.add_argument("--test", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200, help="fine-tuning steps per round")
    parser.add_argument("--seed", type=int, default=9500)
    args = parser.parse_args()
    started = time.perf_counter()
    config = SynthConfig(shape_px=(900, 700))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_dataset(tmp / "pool", args.pool, args.seed, config=config, progress=False)
        generate_dataset(tmp / "test", args.test, args.seed + 1, config=config, progress=False)
        pool, test = find_cases(tmp / "pool"), find_cases(tmp / "test")
        curves = {name: run_strategy(name, pool, test, args.rounds, args.per_round, args.steps, tmp, args.seed)
                  for name in ("uncertain_c2c3", "random")}
    out = {"settings": vars(args), "curves": curves, "seconds": round(time.perf_counter() - started, 1),
           "note": "segmentator fine-tuned from the default weights each round; detector unchanged"}
    atomic_write_text(ROOT / "benchmarks" / "active_learning.json", json.dumps(out, indent=1))
    plot(curves, ROOT / "benchmarks" / "active_learning.png")
    print(json.dumps(out, indent=1))


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, curve in curves.items():
        x = [p["labelled"] for p in curve]
        axes[0].plot(x, [p["sensitivity_at_1_fppi"] for p in curve], "o-", label=name)
        axes[1].plot(x, [p["dice"] for p in curve], "o-", label=name)
    axes[0].set_ylabel("sensitivity at 1 FP/image")
    axes[1].set_ylabel("pixel Dice")
    for ax in axes:
        ax.set_xlabel("labelled images")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()

"""Active-learning experiment: uncertain_c2c3 against random and plain entropy (a benchmark, not a test).

    .venv/bin/python benchmarks/active_learning.py [--seeds 5] [--rounds 10] [--pool 16] [--test 20] [--jobs 2]

The pools are the project's hardest realistic images, not the phantom: half
synthetic calcifications in crops of the real CBIS-DDSM films (both patients),
half FFDM-like phantoms (vendor-style processing) at 0.07 or 0.1 mm, contrast
2-12 times the local noise (the faint and medium bands where real images fail).
The test set (20 images, fixed) is made the same way with another seed; it
shares the two films with the pools (as a site's own images would) but no crop.

Each seed draws its own pool. Each round each strategy picks one unlabelled
image; its ground truth (the annotator's correction) enters that strategy's
patch store, and the segmentator is fine-tuned from the default weights on
every image labelled so far (the detector is kept), as the app's retraining
does. The strategies score the pool with the weights of the previous round.
After each round: calcification sensitivity at 1 FP/image and pixel Dice on
the test set.

* ``uncertain_c2c3``: the app's strategy (mcseg.activelearning.score_image).
* ``uncertain_c2``: the same score from the C2 patches alone (the segmentator's borders), added
  after the first run showed uncertain_c2c3 no better than random over 10 rounds: only the
  segmentator is retrained here, and the C3 patches measure the detector.
* ``entropy``: plain uncertainty without the C2/C3 split
  (mcseg.activelearning.entropy_score: one view, pixel entropy, top tiles).
* ``random``: a uniform pick.

The rule for "labelled images to reach the target", fixed before the run: the
target is the sensitivity with no labelled image plus ``--target-gain``
(0.05); a seed's figure is the first round whose sensitivity reaches it (not
reached within the rounds: counted as missing). Each (seed, strategy) run is
kept in runs/active-learning/jobs/ and not re-run unless --fresh.

Writes benchmarks/active_learning.{json,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CBIS = ROOT.parent / "shared" / "data" / "cbis-ddsm-sample" / "cases"
WORK = ROOT / "runs" / "active-learning"
STRATEGIES = ("uncertain_c2c3", "uncertain_c2", "entropy", "random")
TEST_SEED = 9600


def make_set(out: Path, n: int, seed: int, shape_px: tuple[int, int]) -> Path:
    """n/2 real-film crops and n - n/2 FFDM-like phantoms, written once."""
    from mcseg.synth import SynthConfig, generate_dataset

    if (out / "done").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    config = SynthConfig(shape_px=shape_px, contrast_range=(2.0, 12.0))
    films = sorted(CBIS.rglob("*.dcm"))
    generate_dataset(out, n // 2, seed, mode="real-background", backgrounds=films, config=config,
                     progress=False, prefix="film")
    generate_dataset(out, n - n // 2, seed + 1, config=config, progress=False, prefix="ffdm",
                     spacings_mm=(0.07, 0.1), ffdm_share=1.0, eight_bit_share=0.5)
    (out / "done").write_text("")
    return out


def measure(pipeline, cases) -> dict:
    from mcseg.evaluation import Overlap, froc, match_listed
    from mcseg.io import read_label, read_mammogram

    matches, pooled = [], Overlap()
    for case in cases:
        truth = read_label(case.label_path)
        result = pipeline.run(read_mammogram(case.image_path))
        matches.append(match_listed(result.calcifications, truth, result.mammogram.spacing_mm))
        pooled = pooled + Overlap.of(result.mask, truth)
    return {"sensitivity_at_1_fppi": round(froc(matches).sensitivity_at(1.0), 4), "dice": round(pooled.dice, 4)}


def run_job(strategy: str, seed: int, pool_dir: Path, test_dir: Path, rounds: int, steps: int) -> dict:
    """One strategy on one seed's pool: the curve after each round (round 0 is measured by the caller)."""
    import torch

    torch.set_num_threads(1)   # one process per core: two jobs run side by side
    from mcseg.defaults import TrainConfig
    from mcseg.io import read_mammogram
    from mcseg.patches import PatchStore
    from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS, Pipeline
    from mcseg.training import find_cases
    from mcseg.training.finetune import finetune_network, store_case

    started = time.perf_counter()
    pool, test = find_cases(pool_dir), find_cases(test_dir)
    work = WORK / "jobs" / f"{strategy}-{seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    store = PatchStore(work / "patches.sqlite")
    published = work / "segmentator.pt"
    # The experiment fine-tunes and scores the 0.07 mm networks throughout, as when it was run (before
    # 0.06 mm and coarser inputs went to the coarse networks): pinned, so that its figures reproduce.
    pipeline = Pipeline.from_weights(coarse_dir=None)
    labelled: list[str] = []
    curve, scoring_s = [], 0.0
    for r in range(rounds):
        unlabelled = [c for c in pool if c.image_id not in labelled]
        t = time.perf_counter()
        if strategy == "random":
            pick = unlabelled[int(rng.integers(len(unlabelled)))]
        else:
            scores = [_score(strategy, pipeline, read_mammogram(c.image_path)) for c in unlabelled]
            pick = unlabelled[int(np.argmax(scores))]
        scoring_s += time.perf_counter() - t
        # Every labelled image trains: the annotator's labels are the whole training set here.
        store_case(store, pick, "train", pipeline.config.working_spacing_mm, seed=seed)
        labelled.append(pick.image_id)
        finetune_network("segmentator", store, DEFAULT_SEGMENTATOR_WEIGHTS, published,
                         TrainConfig(max_steps=steps, validate_every=steps, early_stopping_patience=0, seed=seed),
                         progress=False)
        pipeline = Pipeline.from_weights(DEFAULT_DETECTOR_WEIGHTS, published)
        curve.append({"labelled": len(labelled), "picked": pick.image_id, **measure(pipeline, test)})
    result = {"strategy": strategy, "seed": seed, "curve": curve, "scoring_seconds": round(scoring_s, 1),
              "seconds": round(time.perf_counter() - started, 1)}
    (work.parent / f"{strategy}-{seed}.json").write_text(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return result


def _score(strategy: str, pipeline, mammo) -> float:
    from mcseg.activelearning import entropy_score, score_image
    from mcseg.activelearning.uncertainty import TOP_K

    if strategy == "entropy":
        return entropy_score(pipeline, mammo)
    found = score_image(pipeline, mammo)
    if strategy == "uncertain_c2c3":
        return found.score
    c2 = [p.uncertainty for p in found.patches if p.patch_class == "C2"][:TOP_K]   # patches come sorted
    return float(np.mean(c2)) if c2 else 0.0


def mean_ci(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) and the half-width of its 95% t interval."""
    from scipy import stats

    n = values.shape[0]
    half = stats.t.ppf(0.975, n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(values.shape[1:])
    return values.mean(axis=0), half


def summarise(baseline: dict, jobs: list[dict], target_gain: float) -> dict:
    seeds = sorted({j["seed"] for j in jobs})
    target = round(baseline["sensitivity_at_1_fppi"] + target_gain, 4)
    out: dict = {"target_sensitivity": target, "strategies": {}}
    sens_by: dict[str, np.ndarray] = {}
    for strategy in STRATEGIES:
        runs = sorted((j for j in jobs if j["strategy"] == strategy), key=lambda j: j["seed"])
        if not runs:
            continue
        sens = np.array([[baseline["sensitivity_at_1_fppi"]] + [p["sensitivity_at_1_fppi"] for p in j["curve"]]
                         for j in runs])
        dice = np.array([[baseline["dice"]] + [p["dice"] for p in j["curve"]] for j in runs])
        sens_by[strategy] = sens
        reach = [next((k for k in range(1, sens.shape[1]) if s[k] >= target), None) for s in sens]
        got = [k for k in reach if k is not None]
        m, h = mean_ci(sens)
        dm, dh = mean_ci(dice)
        out["strategies"][strategy] = {
            "seeds": [j["seed"] for j in runs],
            "sensitivity_mean": m.round(4).tolist(), "sensitivity_ci95": h.round(4).tolist(),
            "dice_mean": dm.round(4).tolist(), "dice_ci95": dh.round(4).tolist(),
            "labelled_to_target_per_seed": reach,
            "labelled_to_target_median": float(np.median(got)) if got else None,
            "seeds_reaching_target": f"{len(got)} of {len(reach)}",
            "mean_sensitivity_rounds_1_on": round(float(sens[:, 1:].mean()), 4),
            "scoring_seconds_per_run": round(float(np.mean([j["scoring_seconds"] for j in runs])), 1),
        }
    # Paired by seed: the same pool and test set, so the difference per seed is the fair comparison.
    for ours, other in (("uncertain_c2c3", "random"), ("uncertain_c2c3", "entropy"), ("uncertain_c2", "random"),
                        ("uncertain_c2", "entropy"), ("entropy", "random")):
        if ours in sens_by and other in sens_by and len(sens_by[other]) == len(sens_by[ours]):
            diff = sens_by[ours][:, 1:].mean(1) - sens_by[other][:, 1:].mean(1)
            m, h = mean_ci(diff[:, None])
            out[f"{ours}_minus_{other}"] = {
                "per_seed": diff.round(4).tolist(), "mean": round(float(m[0]), 4), "ci95": round(float(h[0]), 4),
                "note": "mean sensitivity at 1 FP/image over rounds 1-N, paired by seed"}
    out["n_seeds"] = len(seeds)
    return out


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, s in summary["strategies"].items():
        for ax, key in zip(axes, ("sensitivity", "dice")):
            m, h = np.array(s[f"{key}_mean"]), np.array(s[f"{key}_ci95"])
            x = np.arange(len(m))
            ax.plot(x, m, "o-", ms=3, label=name)
            ax.fill_between(x, m - h, m + h, alpha=0.2)
    axes[0].axhline(summary["target_sensitivity"], color="grey", ls="--", lw=1, label="target")
    axes[0].set_ylabel("sensitivity at 1 FP/image")
    axes[1].set_ylabel("pixel Dice")
    for ax in axes:
        ax.set_xlabel("labelled images")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"mean over {summary['n_seeds']} seeds, band = 95% CI; test: 20 film crops and FFDM-like phantoms",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pool", type=int, default=16)
    parser.add_argument("--test", type=int, default=20)
    parser.add_argument("--shape-px", type=int, nargs=2, default=(512, 416))
    parser.add_argument("--steps", type=int, default=50, help="fine-tuning steps per round")
    parser.add_argument("--target-gain", type=float, default=0.05)
    parser.add_argument("--jobs", type=int, default=2, help="processes, one thread each")
    parser.add_argument("--first-seed", type=int, default=9700)
    parser.add_argument("--fresh", action="store_true", help="re-run the jobs already kept")
    args = parser.parse_args()
    started = time.perf_counter()
    shape = tuple(args.shape_px)
    test_dir = make_set(WORK / "test", args.test, TEST_SEED, shape)
    seeds = [args.first_seed + 10 * i for i in range(args.seeds)]
    pools = {s: make_set(WORK / f"pool-{s}", args.pool, s, shape) for s in seeds}

    import torch

    from mcseg.pipeline import Pipeline
    from mcseg.training import find_cases

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    baseline = measure(Pipeline.from_weights(coarse_dir=None), find_cases(test_dir))  # pinned, see run_job
    print("0 labelled:", baseline, flush=True)
    jobs, todo = [], []
    for seed in seeds:
        for strategy in STRATEGIES:
            kept = WORK / "jobs" / f"{strategy}-{seed}.json"
            if kept.exists() and not args.fresh:
                jobs.append(json.loads(kept.read_text()))
            else:
                todo.append((strategy, seed))
    with ProcessPoolExecutor(args.jobs) as executor:
        futures = [executor.submit(run_job, st, seed, pools[seed], test_dir, args.rounds, args.steps)
                   for st, seed in todo]
        for n, future in enumerate(as_completed(futures), 1):
            job = future.result()
            jobs.append(job)
            print(f"[{n}/{len(todo)}] {job['strategy']} seed {job['seed']}: "
                  f"{[p['sensitivity_at_1_fppi'] for p in job['curve']]} ({job['seconds']} s)", flush=True)
    summary = summarise(baseline, jobs, args.target_gain)
    out = {"settings": vars(args) | {"shape_px": list(shape)}, "baseline": baseline, "summary": summary,
           "runs": sorted(jobs, key=lambda j: (j["strategy"], j["seed"])),
           "seconds": round(time.perf_counter() - started, 1),
           "note": "segmentator fine-tuned from the default weights each round on all labelled images; "
                   "detector unchanged; 2 CPU cores, one process per core"}
    from mcseg.io.atomic import atomic_write_text

    atomic_write_text(ROOT / "benchmarks" / "active_learning.json", json.dumps(out, indent=1))
    plot(summary, ROOT / "benchmarks" / "active_learning.png")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

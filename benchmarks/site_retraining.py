"""Which networks should a site's saved labels retrain, and what does retraining give? (the app's round
trip, issue 15; a benchmark, not a test)

    .venv/bin/python benchmarks/site_retraining.py        # about 30 minutes here

A site labels 24 of its own FFDMs at 0.07 mm and presses Train. Here the site's images are the
vendor-fold training crops (vendor_fold_classifier.py --weights fine: 12 crops of the GE and of the
Siemens file resampled to 0.07 mm, half as 8-bit copies, synthetic calcifications whose ground truth
plays the annotator's correction). Each arm retrains as the app does, in one process with its
defaults (mcseg.training.recipe.retrain_from_labels: the segmentator, then the detector, 300 steps
each, the candidate classifier refitted by its rule after each), and is then run on every evaluation
set of evaluate_default.py:

* ``bundled``: no retraining (0.06 mm and coarser go to the coarse networks);
* ``coarse-retrained`` (the app at e143b77, named ``route`` when it ran): the labels retrain the
  coarse networks, which serve 0.07 mm;
* ``fine-only`` (the app before e143b77): the labels retrain the 0.07 mm networks, which then serve
  every input (the coarse route off).

**Written before the first run:** this chooses no weights and ships nothing. The route-aware
retraining (``coarse-retrained``) is called the better behaviour if, on vendor-0.07mm (the site's
population: other crops of the same two breasts), its sensitivity at 1 FP/image is at least the
fine-only arm's; the other sets show what one site's labels cost elsewhere.

**It was not** (0.620 against 0.834), so the app changed again (defaults.RETRAINED_FINE_MAX_SPACING_MM):
labels of images finer than 0.08 mm retrain the 0.07 mm networks, coarser ones the coarse networks,
and once the 0.07 mm segmentator has been retrained on 0.06-0.08 mm labels those inputs go back to it.
A fourth arm, added after the first three had run, measures that:

* ``app``: the labels split as the app now splits them (here all 24 retrain the 0.07 mm networks),
  the coarse networks kept for 0.08 mm and coarser. After its first run (18.6 false calcifications per
  CBIS film) the app also leaves inputs of the pixel band the labels did not cover to the bundled
  0.07 mm networks (Pipeline.covers); cbis-negatives was run again for that.

**A second rule, written and committed before its runs (``--learning-rate``):** the app retrains at
the from-scratch rate (defaults.LEARNING_RATE, 1e-3), and the ``app`` arm forgets at the site's own
pixel size what the bundled networks knew (synthetic 0.690 -> 0.661, real-background 0.444 -> 0.387,
ffdm-like 0.765 -> 0.715 at 1 FP/image). The ``app`` arm is run again at 5e-4 (mcseg train's
fine-tuning rate, FINETUNE_LR_FACTOR) and at 1e-4, as arms ``app-lr0.0005`` and ``app-lr0.0001``, on
those four sets. The app's default retraining rate (defaults.RETRAIN_LEARNING_RATE) becomes the lower
rate that keeps vendor-0.07mm at 1 FP/image within 0.02 of the 1e-3 arm's and raises the mean of the
other three sets' sensitivity at 1 FP/image above the 1e-3 arm's; if neither does, it stays 1e-3.

**A third measurement, written before its runs (``--labels-from ge|siemens``), which chooses
nothing:** does a site's retraining carry over to another vendor's images? The ``app`` arm (at the
app's rate) retrained on one vendor's 12 crops only, arms ``app-from-ge`` and ``app-from-siemens``;
vendor-0.07mm is scored per vendor (``by_vendor``: 6 images each) for them and for the arms that ran
before (from their stored predictions). Reported: sensitivity at 1 FP/image on the vendor not
labelled, against bundled and against the arm labelled on both. Only the README's advice to sites
follows from it.

**Outcome:** 5e-4 (vendor-0.07mm 0.814 against 0.834, 289 against 296 of 355 calcifications, just
within 0.02; the mean 0.637 against 0.588); 1e-4 found more on vendor-0.07mm (0.856) but lowered the
mean (0.557). RETRAIN_LEARNING_RATE is 5e-4 since, so ``--arms app`` now runs at 5e-4; the stored
``app`` entry ran at 1e-3. Not held out: the labels come from the breasts of
vendor-0.07mm and of ffdm-like's vendor crops (a site reading more of its own population, which is the
point), and the bundled coarse classifier had seen coarse crops of them too. The vendor files' own
calcifications are not in the labels (ignore circles in the evaluation), so training reads them as
background, as an annotator who missed them would leave them. Writes benchmarks/site_retraining.json.

**A fourth rule, written and committed before its run (``--rehearsal-images 24``, arm
``app-rehearsal24``):** every retrained arm forgot what the bundled networks knew at the site's pixel
size (phantoms: Dice 0.813 -> 0.087 with the app's arm, their classifier refitted on the site's crops
alone). The app arm at the app's rate, retrained with 24 rehearsal images (mcseg.training.rehearsal:
the generator's phantoms at the labels' band, 0.06-0.075 mm, seed 5101, in the patch store and in the
classifier's refit), on the four sets the retrained networks serve. Rehearsal becomes the app's default
(defaults.RETRAIN_REHEARSAL_IMAGES 0 -> 24) if, against the ``app-lr0.0005`` arm (the app until now),
vendor-0.07mm at 1 FP/image stays within 0.02 (at least 0.794) and the mean of synthetic,
real-background and ffdm-like at 1 FP/image rises above that arm's 0.637. Otherwise it stays an option
(``rehearsal_images``), off.

**Outcome: no.** vendor-0.07mm 0.687 at 1 FP/image (0.814 without rehearsal), the other three 0.534
on average (synthetic 0.690, real-background 0.154, ffdm-like 0.759; 0.637 without): the phantoms'
Dice rose only to 0.213 (0.087), and the film anatomy, which the phantoms do not rehearse, fell from
0.473 to 0.154. Rehearsal stays an option, off.

**Every figure stored here predates the native networks** (choose_native_networks.py, adopted later
that day): the ``bundled`` arm then sent 0.06-0.08 mm inputs to the coarse networks, and the app's arms
started from the 0.07 mm film networks. The app now starts a retraining on native FFDM labels from the
native pair (mcseg.training.routes.start_weights), as this script does since; not re-run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from mcseg import defaults
from mcseg.defaults import TrainConfig
from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS, Pipeline
from mcseg.training import find_cases, retrain_from_labels
from mcseg.training.routes import (cases_by_route, pixel_sizes, published_weights, retraining_start,
                                  route_workspace, spacing_range_mm, weights_in_use)

import evaluate_default as ed
import vendor_fold_classifier as vf

ROOT = Path(__file__).resolve().parent.parent
ARMS = ("bundled", "coarse-retrained", "fine-only", "app")
SETS = ("synthetic", "real-background", "ffdm-like", "vendor-0.07mm", "mini-mias", "cbis-negatives")


def arm_pipeline(arm: str, models: Path) -> Pipeline:
    # As the app's ModelFiles: published under MODELS (coarse/ for the coarse route), else bundled
    fine = (weights_in_use(models, "detector", "fine"), weights_in_use(models, "segmentator", "fine"))
    if arm == "fine-only":  # the app before routes: retrained networks served every input
        return Pipeline.from_weights(*fine, coarse_dir=None)
    coarse = (weights_in_use(models, "detector", "coarse"), weights_in_use(models, "segmentator", "coarse"))
    # The app passes the bundled 0.07 mm networks for inputs its retrained ones' labels do not cover
    # (Pipeline.covers, since the fourth arm's first run)
    fallback = (DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS) if arm.startswith("app") and fine[1].parent == models \
        else None
    return Pipeline.from_weights(*fine, coarse_weights=coarse, fallback_weights=fallback)


def retrain(arm: str, work: Path, cases: list, learning_rate: float, rehearsal_images: int = 0) -> dict:
    """The app's Train on ``cases`` for this arm's route(s): segmentator, then detector."""
    models = work / "model"
    sizes = pixel_sizes(cases)
    if arm.startswith("app"):
        routes = cases_by_route(arm_pipeline(arm, models), cases, sizes)
    else:
        routes = {{"coarse-retrained": "coarse", "fine-only": "fine"}[arm]: cases}
    stats = {}
    for route, route_cases in routes.items():
        stats[route] = retrain_route(arm, work, route, route_cases, spacing_range_mm(route_cases, sizes),
                                     learning_rate, rehearsal_images)
    return stats


def retrain_route(arm: str, work: Path, route: str, cases: list, labelled_spacing_mm: list | None,
                  learning_rate: float, rehearsal_images: int = 0) -> dict:
    models = work / "model"
    config = TrainConfig(max_steps=defaults.RETRAIN_STEPS, validate_every=defaults.RETRAIN_VALIDATE_EVERY,
                         learning_rate=learning_rate, batch_size=defaults.BATCH_SIZE,
                         early_stopping_patience=defaults.RETRAIN_EARLY_STOPPING_PATIENCE, seed=0)
    stats = {}
    for role in ("segmentator", "detector"):
        started = time.perf_counter()
        published = published_weights(models, role, route)
        published.parent.mkdir(parents=True, exist_ok=True)
        done = retrain_from_labels(role, cases, retraining_start(models, role, route, labelled_spacing_mm), published,
                                   route_workspace(work / "train", route), config,
                                   lambda: arm_pipeline(arm, models), route=route,
                                   labelled_spacing_mm=labelled_spacing_mm, rehearsal_images=rehearsal_images)
        stats[role] = {"seconds": round(time.perf_counter() - started, 1), "best_step": done["best_step"],
                       "steps": done["steps"], "patch_validation": done["patch_validation"],
                       "image_dice": done["image_validation"]["dice"],
                       "candidate_classifier": done.get("candidate_classifier")}
        print(f"{arm}: {route} {role} retrained: {json.dumps(stats[role])}", flush=True)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "site-retraining")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, help="retrain the app arm at this rate (arm app-lr<RATE>)")
    parser.add_argument("--plot-only", action="store_true", help="only draw benchmarks/site_retraining.png")
    parser.add_argument("--labels-from", choices=("ge", "siemens"),
                        help="retrain the app arm on this vendor's crops only (arm app-from-<VENDOR>)")
    parser.add_argument("--rehearsal-images", type=int, default=0,
                        help="retrain the app arm with this many rehearsal images (arm app-rehearsal<N>)")
    parser.add_argument("--by-vendor-only", action="store_true",
                        help="only score the stored vendor-0.07mm predictions of every arm per vendor")
    args = parser.parse_args()
    store = ROOT / "benchmarks" / "site_retraining.json"
    if args.plot_only:
        plot(json.loads(store.read_text()), store.with_suffix(".png"))
        return
    if args.by_vendor_only:
        results = json.loads(store.read_text())
        for arm in results:
            pred = args.out / arm / "evaluation" / "vendor-0.07mm" / "pred"
            if arm != "labels" and pred.is_dir():
                results[arm]["sets"]["vendor-0.07mm"]["by_vendor"] = by_vendor(pred, args.bootstrap)
                print(arm, json.dumps(results[arm]["sets"]["vendor-0.07mm"]["by_vendor"]))
        store.write_text(json.dumps(results, indent=1))
        return
    fine = vf.RANGES["fine"]
    crops_dir = ROOT / "runs" / "vendor-fold-fine"
    vendors = [args.labels_from] if args.labels_from else list(fine.vendors)
    cases = [c for v in vendors for c in find_cases(vf.make_vendor_crops(crops_dir, fine, v))]
    print(f"site labels: {len(cases)} crops at 0.07 mm", flush=True)
    results = json.loads(store.read_text()) if store.is_file() else {}
    results["labels"] = {"images": len(cases), "folders": [str((crops_dir / f"train-{v}").relative_to(ROOT))
                                                           for v in fine.vendors]}
    rate = args.learning_rate or defaults.RETRAIN_LEARNING_RATE
    for arm in args.arms:
        if args.learning_rate or args.labels_from or args.rehearsal_images:
            if arm != "app":
                raise SystemExit("--learning-rate, --labels-from and --rehearsal-images are for the app arm")
            arm = (f"app-lr{args.learning_rate:g}" if args.learning_rate else f"app-from-{args.labels_from}"
                   if args.labels_from else f"app-rehearsal{args.rehearsal_images}")
        work = args.out / arm
        shutil.rmtree(work / "model", ignore_errors=True)
        shutil.rmtree(work / "train", ignore_errors=True)
        # Sets not run now keep their earlier figures (retraining is deterministic: seed 0, one process).
        earlier = results.get(arm, {}).get("sets", {})
        entry = {"retraining": retrain(arm, work, cases, rate, args.rehearsal_images) if arm != "bundled" else None,
                 "learning_rate": rate, "rehearsal_images": args.rehearsal_images,
                 "sets": {k: v for k, v in earlier.items() if k not in args.sets}}
        pipeline = arm_pipeline(arm, work / "model")
        for name in args.sets:
            summary = ed.evaluate_set(name, pipeline, work / "evaluation" / name, args.bootstrap,
                                      title=f"Site retraining, arm {arm},")
            keep = {k: summary[k] for k in ("calcification", "cluster", "overlap", "seconds_per_image",
                                            "normals_calcification_fp") if k in summary}
            if name == "vendor-0.07mm":
                keep["by_vendor"] = by_vendor(work / "evaluation" / name / "pred", args.bootstrap)
            entry["sets"][name] = keep
            print(f"{arm} {name}: {_cell(keep)}", flush=True)
        results[arm] = entry
        store.write_text(json.dumps(results, indent=1))
    print(table(results))
    plot(results, store.with_suffix(".png"))


#: The arms drawn, with their legend: what the app did and does.
PLOTTED = {"bundled": "bundled weights, no retraining",
           "coarse-retrained": "labels retrain the coarse networks (e143b77)",
           "fine-only": "labels retrain the 0.07 mm networks, which serve every input (before)",
           "app-lr0.0005": "the app now: 0.07 mm networks for < 0.08 mm, at 5e-4, fallback for film"}


def plot(results: dict, out: Path) -> None:
    """Sensitivity at 1 FP/image per set and arm: what a site's retraining gives on its own images and
    costs on the others."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    sets = ["vendor-0.07mm", "ffdm-like", "synthetic", "real-background"]
    arms = [a for a in PLOTTED if a in results]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(arms)
    for k, arm in enumerate(arms):
        values = [results[arm]["sets"][n]["calcification"]["sensitivity_at_fppi"]["1"] for n in sets]
        bars = ax.bar(np.arange(len(sets)) + (k - (len(arms) - 1) / 2) * width, values, width, label=PLOTTED[arm])
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(np.arange(len(sets)), ["vendor-0.07mm\n(the site's images)", "ffdm-like", "synthetic\n(phantoms, 0.07 mm)",
                                         "real-background\n(film anatomy, 0.07 mm)"])
    ax.set_ylabel("calcification sensitivity at 1 FP/image")
    ax.set_ylim(0, 1)
    ax.set_title(f"After a site labels {results['labels']['images']} of its 0.07 mm FFDMs and retrains", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def by_vendor(pred: Path, bootstrap: int) -> dict:
    """Sensitivity at 0.25 and 1 FP/image of one arm's vendor-0.07mm predictions, per vendor."""
    import tempfile

    from mcseg.evaluation.report import evaluate_folder

    truth = pred.parent / "data"  # the set as evaluate_set made it for this arm, ignore circles marked
    out = {}
    for vendor in ("ge", "siemens"):
        with tempfile.TemporaryDirectory() as subset:
            for f in pred.glob(f"{vendor}-*"):
                (Path(subset) / f.name).symlink_to(f.resolve())
            summary, _ = evaluate_folder(subset, truth, n_boot=bootstrap)
        calc = summary["calcification"]
        out[vendor] = {"images": calc["images"], "truth": calc["truth"],
                       "sensitivity_at_fppi": {k: calc["sensitivity_at_fppi"][k] for k in ("0.25", "1")},
                       "ci95_at_1": calc["ci95"]["1"]}
    return out


def table(results: dict) -> str:
    arms = [a for a in ARMS if a in results] + sorted(a for a in results if a.startswith("app-"))
    lines = ["| set | " + " | ".join(arms) + " |", "|---|" + "---|" * len(arms)]
    for name in SETS:
        cells = []
        for arm in arms:
            cells.append(_cell(results[arm]["sets"].get(name, {})))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(summary: dict) -> str:
    """Sensitivity at 1 (0.25) FP/image and Dice; on sets without calcification truth, false positives."""
    calc = summary.get("calcification", {})
    if calc.get("sensitivity_at_fppi"):
        at = calc["sensitivity_at_fppi"]
        dice = summary.get("overlap", {}).get("dice_set")
        return f"{at['1']:.3f} ({at['0.25']:.3f}), Dice {dice:.3f}" if dice is not None else f"{at['1']:.3f} ({at['0.25']:.3f})"
    if "normals_calcification_fp" in summary:
        cl = summary["cluster"]["sensitivity_at_fppi"]
        return f"clusters {cl['0.2']:.3f} at 0.2; {summary['normals_calcification_fp']['mean']} FP/normal"
    if "fppi_at_operating_point" in calc:
        return f"{calc['fppi_at_operating_point']} FP/film"
    return "-"


if __name__ == "__main__":
    main()

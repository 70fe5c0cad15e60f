"""Does real FFDM anatomy in the coarse candidate classifier's training pay? A vendor-fold check
(issue 15; a benchmark, not a test).

    .venv/bin/python benchmarks/vendor_fold_classifier.py [--out runs/vendor-fold] [--adopt]
    .venv/bin/python benchmarks/vendor_fold_classifier.py --cross-fit OLD.npz   # after adoption
    .venv/bin/python benchmarks/vendor_fold_classifier.py --weights fine [--adopt | --cross-fit OLD.npz]

--cross-fit (not part of the rule; run after it decided): the ffdm-like images the coarse weights serve
(its 12 vendor crops and 6 phantoms of 0.1 and 0.14 mm), each vendor crop scored by the fold
classifier that never saw its vendor's anatomy and each phantom by the adopted one, against OLD (the
classifier shipped before) and the adopted one on the same images: the held-out estimate of the
adopted classifier on that set. Writes benchmarks/vendor_fold_crossfit.json.

Why: on the ffdm-like set the false positives that set the 1 FP/image point lie in the real GE and
Siemens anatomy (the FFDM-like phantoms have none above it), and no image the coarse classifier was
trained on is a real FFDM. The only real FFDMs the project may use are those two vendor files, and
the ffdm-like set is made from them, so each is held out in turn:

* fold "ge":      the classifier's training adds 12 crops of the GE file with synthetic
                  calcifications (6 at its own 0.094 mm, 6 at 0.14 mm as 8-bit copies; seeds 9301-9302,
                  not the evaluation's 9201-9204); it is judged on the Siemens crops of the ffdm-like
                  set (6) and its 6 phantoms of 0.1 and 0.14 mm (the images the coarse weights serve);
* fold "siemens": the same with the Siemens file (seeds 9303-9304), judged on the GE crops and the
                  same phantoms.

The training crops' own real calcifications (tests/data/ffdm-vendor/background_findings.json) are
left out of the training candidates as the evaluation leaves them out of its scoring (ignore
circles). The rest of the training data is the shipped coarse classifier's folder
(runs/coarse-classifier-2 of scripts/train_coarse_classifier.sh), its candidates harvested again
with today's code; the networks are the bundled coarse ones, the fit and calibration the project's
own (mcseg.training.candidate_classifier.fit_classifier, seed 0). A "control" classifier fitted on
that folder alone, with the same code, says what the re-harvest alone changes.

**The rule, written and committed before this script was first run:** in each fold, the fold
classifier and the shipped coarse classifier score the same candidates of the held-out images
(the coarse networks' candidates, matched and ignore circles applied as evaluate_default.py does);
if the fold classifier finds more calcifications at 1 FP/image than the shipped one **in both
folds**, a classifier fitted with both vendors' crops (24) replaces the shipped coarse classifier
(--adopt). Its figures on the ffdm-like set's vendor crops are then no longer held out (their
anatomy, not their calcifications, was seen in training): the fold figures are its estimate.
Otherwise nothing changes. Writes benchmarks/vendor_fold_classifier.json.

**--weights fine (written and committed on 2026-12-07 before it was first run): the same check and
the same rule for the 0.07 mm weights' classifier**, whose inputs finer than 0.08 mm include native
0.07 mm FFDM, where the vendor-0.07mm evaluation set found those weights weak (0.437 at 1 FP/image).
The vendor files resampled to 0.07 mm (evaluate_default.vendor_files_at) give 12 training crops per
vendor at 0.07 mm, 6 as they are and 6 as 8-bit copies (seeds 9311-9314, not the evaluation's
9221-9224); the base folder is that of scripts/train_fine_classifier.sh (runs/fine-classifier); the
networks and the shipped classifier are the 0.07 mm ones (mcseg/weights/); each fold is judged on the
other vendor's 6 crops of the vendor-0.07mm set and the 3 phantoms of 0.07 mm of the ffdm-like set.
Writes benchmarks/vendor_fold_classifier_fine.json (and vendor_fold_crossfit_fine.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mcseg.evaluation.froc import ImageMatch, froc, match_points, without_ignored
from mcseg.evaluation.truth import find_truth
from mcseg.fp_reduction import CLASSIFIER_FILE, FEATURE_NAMES, CandidateClassifier
from mcseg.io import read_mammogram
from mcseg.defaults import PipelineConfig
from mcseg.pipeline import Pipeline
from mcseg.synth import SynthConfig, generate_dataset
from mcseg.training import find_cases
from mcseg.training.candidate_classifier import Harvest, fit_classifier, harvest

import evaluate_default as ed

ROOT = Path(__file__).resolve().parent.parent
FFDM_LIKE = ROOT / "runs" / "evaluation" / "ffdm-like" / "data"
FPPI = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Range:
    """One weights' pixel range: where its classifier, training folder and held-out images are."""

    weights: Path           # the networks and the classifier the rule may replace
    base_folder: Path       # the shipped classifier's training folder
    evaluation_set: str     # the evaluation set whose vendor crops are held out
    #: fold: file, pixel sizes of its training crops (16-bit, 8-bit), seeds, prefix of its evaluation crops
    vendors: dict
    phantoms: tuple[str, ...]   # ffdm-like phantoms the range serves (held out in every fold)
    json_name: str
    resampled: float | None = None   # training crops from the vendor files resampled to this pixel


RANGES = {
    "coarse": Range(ROOT / "mcseg" / "weights" / "coarse", ROOT / "runs" / "coarse-classifier-2" / "data", "ffdm-like",
                    {"ge": ("GH133.dcm", (0.0941, 0.14), (9301, 9302), "ge-"),
                     "siemens": ("OutOfBoundsOverlay.dcm", (0.085, 0.14), (9303, 9304), "siemens-")},
                    ("phantom-100um", "phantom-140um"), "vendor_fold_classifier.json"),
    "fine": Range(ROOT / "mcseg" / "weights", ROOT / "runs" / "fine-classifier" / "data", "vendor-0.07mm",
                  {"ge": ("GH133.dcm", (0.07, 0.07), (9311, 9312), "ge-007"),
                   "siemens": ("OutOfBoundsOverlay.dcm", (0.07, 0.07), (9313, 9314), "siemens-007")},
                  ("phantom-70um",), "vendor_fold_classifier_fine.json", resampled=0.07),
}


def make_vendor_crops(folder: Path, scope: Range, vendor: str) -> Path:
    """12 crops of one vendor file with synthetic calcifications, its own findings as ignore circles."""
    name, (spacing_16, spacing_8), (seed_16, seed_8), _ = scope.vendors[vendor]
    out = folder / f"train-{vendor}"
    if not (out / "done").is_file():
        shutil.rmtree(out, ignore_errors=True)
        config = SynthConfig(contrast_range=(2.0, 20.0))
        background = (ed.vendor_files_at(folder / f"backgrounds-{scope.resampled:g}mm", scope.resampled)[name]
                      if scope.resampled else ed.VENDOR / name)
        # The 8-bit crops named apart only where both share a pixel size (the coarse range's names, which
        # its train/validation split hashes, stay as they were).
        tag_8 = "-8bit" if spacing_8 == spacing_16 else ""
        for spacing, eight_bit, seed, tag in ((spacing_16, 0.0, seed_16, ""), (spacing_8, 1.0, seed_8, tag_8)):
            generate_dataset(out, 6, seed, mode="real-background", backgrounds=[background], config=config,
                             progress=False, prefix=f"{vendor}-train-{round(spacing * 1000)}um{tag}",
                             spacings_mm=(spacing,), eight_bit_share=eight_bit)
        ed.mark_background_findings(out, scope.evaluation_set)
        (out / "done").touch()
    return out


def harvest_scored(pipeline: Pipeline, images: list[Path], truth_dir: Path) -> list[dict]:
    """Per image: the candidates' features and centroids, and its truth (for matching per scoring)."""
    found = []
    for path in tqdm(images, desc="candidates", unit="image"):
        stem = path.name[:-4]
        result = pipeline.run(read_mammogram(path), keep_features=True)
        truth = find_truth(truth_dir, stem)
        features = result.candidate_features if result.calcifications else np.zeros((0, len(FEATURE_NAMES)))
        found.append({"stem": stem, "features": features, "truth": truth,
                      "centroids": np.array([c["centroid_px"] for c in result.calcifications]).reshape(-1, 2),
                      "spacing_mm": truth.spacing_mm or tuple(result.mammogram.spacing_mm),
                      "breast_cm2": result.frame.breast_cm2})
    return found


def _match(item: dict, scores: np.ndarray) -> tuple[ImageMatch, np.ndarray]:
    """One image's candidates matched as the evaluation does, and which of them are scored (outside
    the ignore circles)."""
    truth = item["truth"]
    m = match_points(item["centroids"], scores, truth.centres_px, truth.regions, item["spacing_mm"])
    if truth.ignore:
        return without_ignored(m, item["centroids"], truth.ignore, item["spacing_mm"])
    return m, np.ones(len(scores), bool)


def matches(found: list[dict], score) -> list[ImageMatch]:
    """Each image's candidates scored by ``score(features)`` and matched as the evaluation does."""
    return [_match(item, score(item["features"]) if len(item["features"]) else np.zeros(0))[0] for item in found]


def as_harvest(found: list[dict]) -> Harvest:
    """Training candidates labelled by the evaluation's rule, those in ignore circles left out."""
    rows, hits, image, n_truth = [], [], [], []
    for i, item in enumerate(found):
        m, keep = _match(item, item["features"][:, FEATURE_NAMES.index("segmentator_score")])
        rows.append(item["features"][keep])
        hits.append(m.hits)  # in the candidates' own order
        image.append(np.full(int(keep.sum()), i))
        n_truth.append(m.n_truth)
    return Harvest(np.concatenate(rows), np.concatenate(hits), np.concatenate(image),
                   [item["stem"] for item in found], np.array(n_truth))


def sensitivities(ms: list[ImageMatch]) -> dict:
    curve = froc(ms)
    return {f"{f:g}": round(float(curve.sensitivity_at(f)), 4) for f in FPPI}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", choices=sorted(RANGES), default="coarse",
                        help="whose classifier: the coarse weights' (default) or the 0.07 mm ones'")
    parser.add_argument("--out", type=Path, help="work folder (default runs/vendor-fold[-fine])")
    parser.add_argument("--adopt", action="store_true")
    parser.add_argument("--json", type=Path, help="default: benchmarks/vendor_fold_classifier[_fine].json")
    parser.add_argument("--cross-fit", type=Path, metavar="OLD", help="see the module's docstring")
    parser.add_argument("--views", type=int, default=8,
                        help="symmetry views of the segmentator (the coarse classifier has averaged 2 since "
                             "benchmarks/choose_views.py; default 8, as the folds were first run)")
    args = parser.parse_args()
    scope = RANGES[args.weights]
    args.out = args.out or ROOT / "runs" / ("vendor-fold" if args.weights == "coarse" else f"vendor-fold-{args.weights}")
    args.json = args.json or ROOT / "benchmarks" / scope.json_name
    args.out.mkdir(parents=True, exist_ok=True)
    sets = {name: ROOT / "runs" / "evaluation" / name / "data" for name in ("ffdm-like", scope.evaluation_set)}
    for name, data in sets.items():
        if not data.is_dir():
            ed.ensure_data(name, data)
        ed.mark_background_findings(data, name)
    if not scope.base_folder.is_dir():
        raise SystemExit(f"{scope.base_folder} is missing: make it with the range's training script first")
    networks = Pipeline.from_weights(scope.weights / "detector.pt", scope.weights / "segmentator.pt",
                                     config=PipelineConfig(segmentator_symmetries=args.views),
                                     classifier_path=None, coarse_dir=None)
    views_tag = "" if args.views == 8 else f"_v{args.views}"
    base_cache = args.out / f"base_candidates{views_tag}.npz"
    if base_cache.is_file():
        base = Harvest.load(base_cache)
    else:
        base = harvest(networks, find_cases(scope.base_folder))
        base.save(base_cache)
    shipped = CandidateClassifier.load(scope.weights / CLASSIFIER_FILE)
    control, control_report = fit_classifier(base)
    vendor_found = {v: harvest_scored(networks, sorted(make_vendor_crops(args.out, scope, v).glob("*.dcm")),
                                      args.out / f"train-{v}") for v in scope.vendors}
    phantoms = harvest_scored(networks, [p for p in sorted(sets["ffdm-like"].glob("*.dcm"))
                                         if p.name.startswith(scope.phantoms)], sets["ffdm-like"])
    # The held-out crops of fold v: those of the vendor it did not see.
    held_out = sets[scope.evaluation_set]
    crops = {v: harvest_scored(networks, [p for p in sorted(held_out.glob("*.dcm"))
                                          if p.name.startswith(scope.vendors[other][3])], held_out)
             for v in scope.vendors for other in scope.vendors if other != v}
    if args.cross_fit:
        cross_fit(args, scope, base, vendor_found, crops, phantoms)
        return
    result = {"weights": args.weights,
              "rule": "adopt a classifier fitted with both vendors' crops if, in both folds, the fold classifier "
                      f"finds more calcifications at 1 FP/image than the shipped classifier of the {args.weights} "
                      f"weights on the held-out vendor's {scope.evaluation_set} crops and the "
                      f"{', '.join(scope.phantoms)} phantoms of ffdm-like", "folds": {}}
    for v in scope.vendors:
        fold, report = fit_classifier(Harvest.concatenate([base, as_harvest(vendor_found[v])]))
        scorings = {"segmentator score": lambda f: f[:, FEATURE_NAMES.index("segmentator_score")],
                    "shipped": shipped.predict, "control (folder only, today's code)": control.predict,
                    f"fold (+{v} crops)": fold.predict}
        test = crops[v] + phantoms
        result["folds"][v] = {
            "held_out_images": [item["stem"] for item in test],
            "calcifications": int(sum(item["truth"].centres_px.shape[0] for item in test)),
            "fold_classifier_validation": report["validation"],
            "sensitivity_at_fppi": {name: sensitivities(matches(test, fn)) for name, fn in scorings.items()}}
        s = result["folds"][v]["sensitivity_at_fppi"]
        result["folds"][v]["fold_beats_shipped_at_1"] = s[f"fold (+{v} crops)"]["1"] > s["shipped"]["1"]
        print(v, json.dumps(s, indent=1))
    result["adopt"] = all(f["fold_beats_shipped_at_1"] for f in result["folds"].values())
    if result["adopt"]:
        both = Harvest.concatenate([base, as_harvest(vendor_found["ge"] + vendor_found["siemens"])])
        clf, report = fit_classifier(both)
        report["trained_by"] = (f"benchmarks/vendor_fold_classifier.py --weights {args.weights}: the folder "
                                f"{scope.base_folder.relative_to(ROOT)} and 12 crops of each vendor FFDM (GE, Siemens) "
                                "with synthetic calcifications")
        clf.save(args.out / CLASSIFIER_FILE)
        (args.out / "candidate_classifier.json").write_text(json.dumps(report, indent=1))
        result["both_vendors_classifier"] = {"operating_threshold": clf.operating_threshold,
                                             "validation": report["validation"]}
        if args.adopt:
            for name in (CLASSIFIER_FILE, "candidate_classifier.json"):
                shutil.copy2(args.out / name, scope.weights / name)
            print(f"classifier fitted with both vendors' crops adopted into {scope.weights}")
    args.json.write_text(json.dumps(result, indent=1))
    print("adopt" if result["adopt"] else "keep the shipped classifier")


def cross_fit(args, scope: Range, base: Harvest, vendor_found: dict, crops: dict, phantoms: list) -> None:
    """Held-out estimate of the adopted classifier on the range's vendor crops and phantoms."""
    old, adopted = CandidateClassifier.load(args.cross_fit), CandidateClassifier.load(scope.weights / CLASSIFIER_FILE)
    folds = {v: fit_classifier(Harvest.concatenate([base, as_harvest(vendor_found[v])]))[0]
             for v in scope.vendors}
    images = [*crops["ge"], *crops["siemens"], *phantoms]
    crossed = [*matches(crops["ge"], folds["ge"].predict), *matches(crops["siemens"], folds["siemens"].predict),
               *matches(phantoms, adopted.predict)]
    result = {"images": [item["stem"] for item in images],
              "calcifications": int(sum(item["truth"].centres_px.shape[0] for item in images)),
              "sensitivity_at_fppi": {
                  "segmentator score": sensitivities(matches(
                      images, lambda f: f[:, FEATURE_NAMES.index("segmentator_score")])),
                  f"classifier shipped before ({args.cross_fit.name})": sensitivities(matches(images, old.predict)),
                  "adopted, cross-fitted (vendor crops by the fold that did not see the vendor)": sensitivities(crossed),
                  "adopted, as shipped (has seen both vendors' anatomy)": sensitivities(matches(images, adopted.predict))}}
    out = args.json.with_name(f"vendor_fold_crossfit{'' if args.views == 8 else f'_v{args.views}'}.json")
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["sensitivity_at_fppi"], indent=1))


if __name__ == "__main__":
    main()

"""How many symmetry views must the segmentator average? (issue 16, judged by issue 15's figures)

    .venv/bin/python benchmarks/choose_views.py [--weights fine coarse] [--views 1 2 4 8] [--adopt]

The segmentator averages its probability over the 8 symmetries of the square, and that average is
68-78% of a full-size mammogram's time (README, Benchmarks). Fewer views are cheaper but noisier, and
every candidate classifier was fitted on 8-view features (the score and the views' spread), so a
fair test refits the classifier on candidates harvested with V views.

For each weights, on the images its shipped classifier was fitted on (0.07 mm: runs/fine-classifier,
90 images; coarse: runs/coarse-classifier-2 plus the 24 vendor crops of runs/vendor-fold, 154), the
networks are run with the first V views of D4 (V = 1, 2, 4, 8), every candidate is labelled as the
classifier's fit labels them, and a classifier is fitted on the training images' candidates
(mcseg.training.candidate_classifier.fit_classifier, seed 0, the same split). Read on the validation
images (20 and 28 + vendor crops; no evaluation image):
  A  sensitivity at 1 FP per validation image (the measure of every classifier choice so far);
  B  sensitivity at the operating point (1 FP per typical mammogram, as the classifier is calibrated).

**The rule, written and committed before any harvest with fewer than 8 views ran:** for each
weights, the smallest V of 1, 2 and 4 whose A and B both lie within 0.02 of the 8-view refit's
(the same tolerance as the candidate-listing rule, benchmarks/choose_candidates.py) serves those
weights, with the classifier fitted on its candidates; if none does, 8 views stay. After adoption,
benchmarks/evaluate_default.py runs every set, and issue 16's own condition is checked: each set's
sensitivity at 1 FP/image must lie inside the bootstrap 95% interval of the 8-view figures in
benchmarks/evaluation.json; if one does not, the change is reverted and the note says so.

--adopt writes the chosen classifier (its meta records the views, and a pipeline loading it averages
that many unless told otherwise) into mcseg/weights[/coarse]/. Writes benchmarks/views_choice.json;
harvests are kept in runs/views/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from mcseg.defaults import PipelineConfig  # noqa: E402
from mcseg.fp_reduction import CLASSIFIER_FILE, SYMMETRIES_META  # noqa: E402
from mcseg.pipeline import Pipeline  # noqa: E402
from mcseg.training import find_cases  # noqa: E402
from mcseg.training.candidate_classifier import Harvest, calibration, curve_of, fit_classifier, harvest  # noqa: E402

TOLERANCE = 0.02


def harvest_with(weights: str, views: int, work: Path) -> tuple[Harvest, float]:
    """The classifier folder's candidates with ``views`` views (cached), and seconds per image."""
    import vendor_fold_classifier as vf
    from recalibrate_classifiers import breast_cm2

    cache = work / f"{weights}-v{views}.npz"
    timing = cache.with_suffix(".json")
    if cache.is_file() and timing.is_file():
        return Harvest.load(cache), json.loads(timing.read_text())["seconds_per_image"]
    scope = vf.RANGES[weights]
    pipeline = Pipeline.from_weights(scope.weights / "detector.pt", scope.weights / "segmentator.pt",
                                     config=PipelineConfig(segmentator_symmetries=views),
                                     classifier_path=None, coarse_dir=None)
    cases = find_cases(scope.base_folder)
    paths = [c.image_path for c in cases]
    start = time.perf_counter()
    found = harvest(pipeline, cases)
    if weights == "coarse":  # the shipped coarse classifier also saw 12 crops of each vendor file
        vendor_work = ROOT / "runs" / "vendor-fold"
        crops = {v: sorted(vf.make_vendor_crops(vendor_work, scope, v).glob("*.dcm")) for v in ("ge", "siemens")}
        scored = [item for v in ("ge", "siemens")
                  for item in vf.harvest_scored(pipeline, crops[v], vendor_work / f"train-{v}")]
        vendor = vf.as_harvest(scored)
        vendor.breast_cm2 = breast_cm2(pipeline, crops["ge"] + crops["siemens"])  # harvest() measured the rest
        found = Harvest.concatenate([found, vendor])
        paths += crops["ge"] + crops["siemens"]
    seconds = (time.perf_counter() - start) / len(paths)
    work.mkdir(parents=True, exist_ok=True)
    found.save(cache)
    timing.write_text(json.dumps({"seconds_per_image": seconds, "images": len(paths)}))
    return found, seconds


def judge(found: Harvest) -> tuple[object, dict, dict]:
    clf, report = fit_classifier(found, on_message=lambda m: None)
    val = found.split_images()[1]
    curve = curve_of(found, clf.predict(found.features), val)
    at_point = calibration(found, val)["fp_per_image"]
    return clf, {"A_sensitivity_at_1_fp_per_image": round(float(curve.sensitivity_at(1.0)), 4),
                 "B_sensitivity_at_operating_point": round(float(curve.sensitivity_at(at_point)), 4),
                 "operating_point_fp_per_image": at_point, "validation_images": int(len(val)),
                 "calcifications": int(curve.n_truth), "candidates": int(len(found.hits)),
                 "operating_threshold": clf.operating_threshold,
                 "cluster_threshold": report.get("cluster_threshold"),
                 "networks_alone_at_1": report["validation"]["sensitivity_at_1_fppi"]["segmentator_score"]}, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", nargs="+", choices=("fine", "coarse"), default=["fine", "coarse"])
    parser.add_argument("--views", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "views")
    parser.add_argument("--adopt", action="store_true")
    args = parser.parse_args()
    out = ROOT / "benchmarks" / "views_choice.json"
    result = json.loads(out.read_text()) if out.is_file() else {}
    result["rule"] = ("per weights, the smallest V of 1, 2, 4 whose validation sensitivity at 1 FP/image (A) and at "
                      f"the operating point (B) both lie within {TOLERANCE} of the 8-view refit's serves; else 8")
    import vendor_fold_classifier as vf

    for weights in args.weights:
        rows, classifiers, reports = result.get(weights, {}).get("views", {}), {}, {}
        for views in sorted(args.views, reverse=True):  # 8 first: the reference
            found, seconds = harvest_with(weights, views, args.work)
            classifiers[views], row, reports[views] = judge(found)
            rows[str(views)] = row | {"harvest_seconds_per_image": round(seconds, 3)}
            if views == 8 and weights == "fine":  # the control must reproduce the shipped classifier's harvest
                shipped = Harvest.load(ROOT / "runs" / "fine-classifier" / "candidates.npz")
                rows["8"]["reproduces_shipped_harvest"] = bool(
                    shipped.features.shape == found.features.shape
                    and np.allclose(shipped.features, found.features, atol=1e-4))
            print(weights, views, json.dumps(rows[str(views)]), flush=True)
        verdict = 8
        if "8" in rows:
            ref = rows["8"]
            for views in (1, 2, 4):
                row = rows.get(str(views))
                if row and all(row[k] >= ref[k] - TOLERANCE for k in ("A_sensitivity_at_1_fp_per_image",
                                                                       "B_sensitivity_at_operating_point")):
                    verdict = views
                    break
        result[weights] = {"views": rows, "verdict_views": verdict}
        print(weights, "->", verdict, "views", flush=True)
        if args.adopt and verdict != 8 and verdict in classifiers:
            clf = classifiers[verdict]
            report = reports[verdict] | {"segmentator_symmetries": verdict, "chosen_by": "benchmarks/choose_views.py"}
            clf.meta |= {SYMMETRIES_META: verdict, "calibration": report["calibration"],
                         "chosen_by": report["chosen_by"]}
            target = vf.RANGES[weights].weights
            clf.save(target / CLASSIFIER_FILE)
            (target / "candidate_classifier.json").write_text(json.dumps(report, indent=1))
            print(f"adopted the {verdict}-view classifier into {target}")
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

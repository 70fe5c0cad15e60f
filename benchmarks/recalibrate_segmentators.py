"""Move the bundled segmentators' own thresholds to 1 false positive per typical mammogram (tried
on 2026-12-07 and NOT kept: see the outcome at the end).

    .venv/bin/python benchmarks/recalibrate_segmentators.py [--write]   # after benchmarks/choose_views.py

The segmentator's calibrated threshold decides the mask where no candidate classifier is used
(`--no-candidate-classifier`, or an app whose retrained networks had no classifier kept beside
them). Both bundled thresholds (0.8631 for the 0.07 mm weights, 0.8246 for the coarse ones) were
calibrated to 1 false positive per validation image on the networks' training validation crops, the
rule the candidate classifiers left on 2026-12-07 (benchmarks/recalibrate_classifiers.py): one per
crop is about three per real mammogram. Those 70 crops are not kept, so the rule, written and
committed before any evaluation image was run with the new thresholds: each segmentator's threshold
at 1 false positive per typical mammogram (mcseg.training.calibrate.fp_per_image), read off the
networks-alone candidates of the validation images of its own range's classifier folder (the
inputs it serves; 8-view harvests of benchmarks/choose_views.py, runs/views/{fine,coarse}-v8.npz,
which record each image's breast area), floored at the candidate threshold as
calibrate_operating_threshold floors it. Nothing is retrained. What it costs is measured by
`benchmarks/evaluate_default.py --no-candidate-classifier` afterwards. The candidate classifiers
were fitted on candidates listed at the old thresholds (a component above the threshold is listed
whole, a weaker region by its peak), so --write first records the old threshold in the classifier
beside each segmentator (LISTING_THRESHOLD_META), where a pipeline that loads the classifier keeps
listing: the default pipeline must not move (checked with benchmarks/evaluate_default.py). --write
then stores the new thresholds in the checkpoints; benchmarks/segmentator_recalibration.json says
what moved.

Outcome (2026-12-07): 0.8631 -> 0.9491 (0.07 mm) and 0.8246 -> 0.9248 (coarse). The default pipeline
with its classifiers came out identical on every set, as it should. The networks alone
(benchmarks/evaluation_networks_only_per_mammogram.json against evaluation_networks_only.json)
called far fewer false calcifications (CBIS films 10.75 -> 1.625 per film, mini-MIAS normals 0.875
-> 0.163 per image, real-background 8.9 -> 2.6 per image at the operating point), but with the
networks alone this one threshold also outlines the mask and decides which members make a cluster:
clusters fell on every set (synthetic 0.941 -> 0.765, real-background 0.857 -> 0.667, ffdm-like
0.927 -> 0.829, vendor-0.07mm 0.621 -> 0.241, mini-MIAS 2 -> 0 of 30), Dice by 0.08-0.19, AUFROC
0-50 by 0.03-0.18. The checkpoints were put back; the candidate classifiers keep the listing
threshold recorded. What the classifiers' path did instead (a cluster threshold below the operating
one, outlines at the listing threshold) is what this path would need.

The follow-up (--decisions; the rule written and committed before any evaluation image was run with
it): each operating threshold stays (it lists and outlines the candidates), and beside it the
segmentator's calibration gets a decision threshold at 1 false positive per typical mammogram and a
cluster threshold at 4 (CLUSTER_CALIBRATION_FP), neither below the operating threshold, from the same
validation images (mcseg.training.calibrate.decision_thresholds; new trainings compute them too).
The networks alone then decide as the classifier path does: a candidate is in the mask when its
score reaches the decision threshold, or the cluster threshold where it forms a cluster
(Pipeline.score_decision). Kept only if, on every evaluation set with cluster truth, the networks
alone find no fewer clusters (at 1 false cluster per image) than with the operating threshold
deciding, and the false calcifications per real normal fall on the CBIS films and the mini-MIAS
normals (`evaluate_default.py --no-candidate-classifier`, judged on evaluation images: there is no
other real normal image at hand).

Outcome of the follow-up: decision thresholds 0.9491 (0.07 mm) and 0.9248 (coarse), cluster thresholds
0.919 and 0.8246. Every FROC figure and nearly every Dice unchanged; false calcifications per CBIS
film 10.75 -> 1.625, per mini-MIAS normal 0.875 -> 0.163; but clusters fell on synthetic (0.941 ->
0.824), real-background (0.857 -> 0.762) and vendor-0.07mm (0.621 -> 0.345): the 0.07 mm weights'
cluster threshold (0.919) sat above their operating threshold, so cluster members that had been in
the mask were not. Not kept by its rule.

The second follow-up (its rule written and committed after that outcome, before it ran): the same,
with the cluster threshold at the operating threshold itself (clustered candidates keep the bar they
had; by construction the pool that forms clusters is then the mask of before), judged by the same
criteria.

**The native segmentator (--native; its rule written and committed before it ran, 2026-12-07).** The
native weights (mcseg/weights/native/, 0.06-0.08 mm inputs) were retrained from the 0.07 mm segmentator
and carried its decision threshold (0.9491) over; their scores crowd near 1, and with the networks alone
their mask floods on real digital anatomy (vendor-0.07mm: 5.3 false calcifications per image at the
operating point, Dice 0.057). The same second follow-up for them: the operating threshold stays (0.8631,
it lists and outlines the candidates; the cluster threshold is it), and the decision threshold is read at
1 false positive per typical mammogram off the native networks' 8-view candidates of the validation
images of their classifier's training images in their band (the 0.06-0.08 mm images of
runs/fine-classifier, the 0.07 mm vendor crops and their re-processed copies). Kept (--write) only if,
with `evaluate_default.py --no-candidate-classifier`, on every set the native networks serve
(synthetic, real-background, ffdm-like, vendor-0.07mm) the networks alone find no fewer clusters at 1
false cluster per image than with the carried-over threshold, and the false calcifications per image at
the operating point fall on vendor-0.07mm. The default pipeline, with the classifier, does not use it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from mcseg.defaults import CALIBRATION_TARGET_FPPI, PipelineConfig  # noqa: E402
from mcseg.fp_reduction import (CLASSIFIER_FILE, FEATURE_NAMES, LISTING_THRESHOLD_META,  # noqa: E402
                                CandidateClassifier)
from mcseg.pipeline import load_network  # noqa: E402
from mcseg.training.calibrate import decision_thresholds, fp_per_image, store_calibration  # noqa: E402
from mcseg.training.candidate_classifier import Harvest, curve_of, threshold_within  # noqa: E402


WEIGHTS = (("fine", ROOT / "mcseg" / "weights"), ("coarse", ROOT / "mcseg" / "weights" / "coarse"))


def segmentator_curve(name: str) -> tuple[Harvest, np.ndarray, object]:
    """The 8-view harvest of ``name``'s classifier folder, its validation images, and the segmentator
    score's FROC curve on them."""
    found = Harvest.load(ROOT / "runs" / "views" / f"{name}-v8.npz")
    if found.breast_cm2 is None or found.symmetries not in (None, 8):
        raise SystemExit(f"runs/views/{name}-v8.npz: an 8-view harvest with breast areas is needed")
    val = found.split_images()[1]
    return found, val, curve_of(found, found.features[:, FEATURE_NAMES.index("segmentator_score")], val)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--decisions", action="store_true",
                        help="the follow-up: keep each operating threshold, add the decision thresholds")
    parser.add_argument("--native", action="store_true", help="the native segmentator's decision threshold")
    args = parser.parse_args()
    if args.native:
        return native_decisions(args.write)
    if args.decisions:
        return decisions(args.write)
    floor = PipelineConfig().candidate_threshold
    result = {}
    for name, folder in WEIGHTS:
        found, val, curve = segmentator_curve(name)
        checkpoint = folder / "segmentator.pt"
        _, meta = load_network(checkpoint, "segmentator")
        before = meta.get("operating_threshold")
        budget = fp_per_image(CALIBRATION_TARGET_FPPI, found.breast_cm2[val])
        threshold = round(max(threshold_within(curve, budget), floor), 4)
        best = np.flatnonzero(curve.fppi <= budget + 1e-12)[-1]
        calibration = {"operating_threshold": threshold, "target_fppi": CALIBRATION_TARGET_FPPI,
                       "fp_per_typical_mammogram": CALIBRATION_TARGET_FPPI, "fp_per_image": budget,
                       "breast_cm2_mean": round(float(np.mean(found.breast_cm2[val])), 1),
                       "sensitivity": round(float(curve.sensitivity[best]), 3),
                       "fppi": round(float(curve.fppi[best]), 3), "images": int(len(val)),
                       "calcifications": int(curve.n_truth),
                       "calibrated_on": f"validation images of the {name} classifier folder "
                                        "(benchmarks/recalibrate_segmentators.py, 2026-12-07)",
                       "before": meta.get("calibration")}
        result[name] = {"threshold": {"before": before, "after": threshold},
                        "sensitivity_at_1_per_image_there": round(float(curve.sensitivity_at(1.0)), 4),
                        **{k: calibration[k] for k in ("fp_per_image", "breast_cm2_mean", "sensitivity", "fppi",
                                                       "images", "calcifications")}}
        print(name, json.dumps(result[name]), flush=True)
        if args.write:
            # The classifier beside was fitted on candidates listed at the old threshold: it keeps
            # listing there (LISTING_THRESHOLD_META), so the default pipeline does not move.
            clf = CandidateClassifier.load(folder / CLASSIFIER_FILE)
            if LISTING_THRESHOLD_META not in clf.meta:
                clf.meta[LISTING_THRESHOLD_META] = before
                clf.save(folder / CLASSIFIER_FILE)
                report_path = folder / "candidate_classifier.json"
                report_path.write_text(json.dumps(json.loads(report_path.read_text())
                                                  | {LISTING_THRESHOLD_META: before}, indent=1))
            store_calibration(checkpoint, calibration)
    (ROOT / "benchmarks" / "segmentator_recalibration.json").write_text(json.dumps(result, indent=1))


def decisions(write: bool) -> None:
    """The follow-up (see the module's docstring): decision and cluster thresholds beside each
    unchanged operating threshold, from the same validation images."""
    result = {}
    for name, folder in WEIGHTS:
        found, val, curve = segmentator_curve(name)
        checkpoint = folder / "segmentator.pt"
        _, meta = load_network(checkpoint, "segmentator")
        found_thresholds = decision_thresholds(curve, found.breast_cm2[val], meta["operating_threshold"])
        result[name] = {"operating_threshold": meta["operating_threshold"], **found_thresholds,
                        "validation_images": int(len(val)), "calcifications": int(curve.n_truth),
                        "breast_cm2_mean": round(float(np.mean(found.breast_cm2[val])), 1)}
        print(name, json.dumps(result[name]), flush=True)
        if write:
            calibration = dict(meta.get("calibration") or {"operating_threshold": meta["operating_threshold"]})
            calibration |= found_thresholds | {"decisions_calibrated_on": f"validation images of the {name} "
                                               "classifier folder (benchmarks/recalibrate_segmentators.py --decisions)"}
            store_calibration(checkpoint, calibration)
    (ROOT / "benchmarks" / "segmentator_decisions.json").write_text(json.dumps(result, indent=1))


def native_decisions(write: bool) -> None:
    """The native segmentator's decision threshold (see the module's docstring)."""
    import dataclasses

    import choose_native_networks as cn
    import vendor_fold_classifier as vf

    from mcseg.pipeline import Pipeline
    from mcseg.training import find_cases
    from mcseg.training.routes import pixel_sizes

    native = ROOT / "mcseg" / "weights" / "native"
    pipeline = Pipeline.from_weights(native / "detector.pt", native / "segmentator.pt",
                                     config=PipelineConfig(segmentator_symmetries=8), classifier_path=None,
                                     coarse_dir=None, native_dir=None)
    base = Harvest.load(ROOT / "runs" / "native-networks-aug" / "both" / "folder-classifier-calibrated"
                        / "base_candidates.npz")
    parts = [base]
    fine = vf.RANGES["fine"]
    for vendor in fine.vendors:
        crops = vf.make_vendor_crops(ROOT / "runs" / "vendor-fold-fine", fine, vendor)
        for folder in (crops, cn.reprocessed(crops, 2)):
            found = vf.harvest_scored(pipeline, sorted(folder.glob("*.dcm")), folder)
            parts.append(dataclasses.replace(vf.as_harvest(found),
                                             breast_cm2=np.array([item["breast_cm2"] for item in found])))
    found = Harvest.concatenate(parts)
    sizes = pixel_sizes(find_cases(ROOT / "runs" / "fine-classifier" / "data"))
    in_band = np.array([i not in sizes or (sizes[i] is not None and cn.BAND_MM[0] <= min(sizes[i]) < cn.BAND_MM[1])
                        for i in found.ids])
    val = np.array([i for i in found.split_images()[1] if in_band[i]])
    curve = curve_of(found, found.features[:, FEATURE_NAMES.index("segmentator_score")], val)
    _, meta = load_network(native / "segmentator.pt", "segmentator")
    found_thresholds = decision_thresholds(curve, found.breast_cm2[val], meta["operating_threshold"])
    result = {"operating_threshold": meta["operating_threshold"], **found_thresholds,
              "before": {k: (meta.get("calibration") or {}).get(k) for k in found_thresholds},
              "validation_images": int(len(val)), "calcifications": int(curve.n_truth),
              "breast_cm2_mean": round(float(np.mean(found.breast_cm2[val])), 1),
              "sensitivity_at_1_fp_per_image": round(float(curve.sensitivity_at(1.0)), 4)}
    print(json.dumps(result), flush=True)
    if write:
        calibration = dict(meta.get("calibration") or {"operating_threshold": meta["operating_threshold"]})
        calibration |= found_thresholds | {"decisions_calibrated_on": "validation images of the native classifier's "
                                           "0.06-0.08 mm training images (benchmarks/recalibrate_segmentators.py --native)"}
        store_calibration(native / "segmentator.pt", calibration)
    (ROOT / "benchmarks" / "segmentator_decisions_native.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

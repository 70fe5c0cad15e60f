"""Would a candidate classifier refitted on peak candidates pay? A probe (not a rule; nothing is adopted).

    .venv/bin/python benchmarks/peak_candidates_probe.py [--separation-mm 0.28]

On the folder of scripts/train_fine_classifier.sh (runs/fine-classifier, its harvest cached there),
the 0.07 mm networks' candidates are harvested again with every sub-threshold peak listed
(PipelineConfig.candidate_peak_separation_mm), a classifier is fitted on them as the shipped one was
(fit_classifier, seed 0), and four scorings are compared by sensitivity at 0.25-4 FP/image on the
folder's validation images (the same images and calcifications): one candidate per region scored by
the segmentator and by the shipped classifier, peak candidates scored by the segmentator and by the
refitted classifier. Writes runs/fine-classifier-peaks/ and benchmarks/peak_candidates_probe.json.
No evaluation image is run. Adopting peak candidates needs a rule written before, judged on images
this probe has not seen.

Superseded (2026-12-07): peak listing has since got a floor (components.PEAK_FLOOR) and measures each
peak's features at the peak, so a run now lists other candidates than the stored JSON's; the blind
verdict on the listing as it is now is benchmarks/choose_candidates.py's (not adopted).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


from mcseg.defaults import PipelineConfig
from mcseg.fp_reduction import CLASSIFIER_FILE, FEATURE_NAMES, CandidateClassifier
from mcseg.pipeline import Pipeline
from mcseg.training import find_cases
from mcseg.training.candidate_classifier import Harvest, curve_of, fit_classifier, harvest

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "runs" / "fine-classifier"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--separation-mm", type=float, default=0.28)
    args = parser.parse_args()
    out = ROOT / "runs" / "fine-classifier-peaks"
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "candidates.npz"
    if cache.is_file():
        peaks = Harvest.load(cache)
    else:
        pipeline = Pipeline.from_weights(config=PipelineConfig(candidate_peak_separation_mm=args.separation_mm),
                                         classifier_path=None)
        peaks = harvest(pipeline, find_cases(FOLDER / "data"))
        peaks.save(cache)
    regions = Harvest.load(FOLDER / "candidates.npz")
    refitted, _ = fit_classifier(peaks, on_message=lambda m: None)
    refitted.save(out / CLASSIFIER_FILE)
    shipped = CandidateClassifier.load(ROOT / "mcseg" / "weights" / CLASSIFIER_FILE)
    val = peaks.split_images()[1]
    seg = FEATURE_NAMES.index("segmentator_score")
    scorings = {"regions, segmentator score": (regions, regions.features[:, seg]),
                "regions, shipped classifier": (regions, shipped.predict(regions.features)),
                "peaks, segmentator score": (peaks, peaks.features[:, seg]),
                "peaks, refitted classifier": (peaks, refitted.predict(peaks.features))}
    result = {"separation_mm": args.separation_mm, "validation_images": int(len(val)),
              "candidates": {"regions": int(len(regions.hits)), "peaks": int(len(peaks.hits))},
              "sensitivity_at_fppi": {}}
    for name, (found, scores) in scorings.items():
        curve = curve_of(found, scores, val)
        result["calcifications"] = int(curve.n_truth)
        result["sensitivity_at_fppi"][name] = {f"{f:g}": round(float(curve.sensitivity_at(f)), 3)
                                               for f in (0.25, 0.5, 1, 2, 4)}
    (ROOT / "benchmarks" / "peak_candidates_probe.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""Apply the rule that decides a pixel range's candidate classifier (a benchmark, not a test).

    .venv/bin/python benchmarks/choose_classifier.py runs/coarse-classifier-2 [--adopt]
    .venv/bin/python benchmarks/choose_classifier.py runs/fine-classifier --weights fine [--adopt]

Written and committed (issue 15, session of 2026-12-06) before the new classifier was trained and
before any evaluation image was run with it. Since the coarse weights serve every input of 0.08 mm
and coarser, the evaluation showed the shipped coarse classifier losing to the networks alone on
FFDM-like images; it had been trained and judged on images of every pixel size (0.05-0.2 mm).

DIR comes from scripts/train_coarse_classifier.sh: images only in the range the coarse weights
serve (0.085-0.2 mm, mostly FFDM-like), their candidates from the coarse networks
(DIR/candidates.npz) and a classifier fitted on the training split (DIR/candidate_classifier.npz).
On the folder's validation images (the hash split; no evaluation image), three scorings of the
same candidates are compared by sensitivity at 1 FP/image: the segmentator score (the networks
alone), the shipped coarse classifier and the new one. The best serves the coarse inputs; a tie
keeps what ships. With --adopt: "new" copies the classifier into mcseg/weights/coarse/,
"segmentator score" removes the coarse classifier (the coarse pipeline then scores with the
networks alone), "shipped" changes nothing. Writes benchmarks/coarse_classifier_choice.json.

The same rule, unchanged, decides the 0.07 mm weights' classifier (``--weights fine``; written down
on 2026-12-07 before that classifier was trained): scripts/train_fine_classifier.sh harvests only
inputs finer than 0.08 mm, the range those weights serve since the coarse ones took the rest, and
the verdict goes to benchmarks/fine_classifier_choice.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from mcseg.fp_reduction import CLASSIFIER_FILE, FEATURE_NAMES, CandidateClassifier
from mcseg.training.candidate_classifier import Harvest, curve_of
from mcseg.training.data import split_for

ROOT = Path(__file__).resolve().parent.parent
#: The weights folder whose classifier each range's rule decides.
WEIGHTS = {"coarse": ROOT / "mcseg" / "weights" / "coarse", "fine": ROOT / "mcseg" / "weights"}
FPPI = (0.25, 0.5, 1.0, 2.0, 4.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--weights", choices=sorted(WEIGHTS), default="coarse",
                        help="which weights' classifier: coarse (0.08 mm and coarser) or fine (the 0.07 mm ones)")
    parser.add_argument("--adopt", action="store_true")
    parser.add_argument("--out", type=Path, help="default: benchmarks/<weights>_classifier_choice.json")
    args = parser.parse_args()
    target = WEIGHTS[args.weights]
    out = args.out or ROOT / "benchmarks" / f"{args.weights}_classifier_choice.json"
    found = Harvest.load(args.run / "candidates.npz")
    val = np.flatnonzero(np.array([split_for(i) == "val" for i in found.ids]))
    scorings = {"segmentator score": found.features[:, FEATURE_NAMES.index("segmentator_score")]}
    # What ships: the range's classifier, or the networks alone where none ships (after new networks
    # replaced the ones it was fitted to, benchmarks/segmentator_capacity.py).
    shipped = "shipped" if (target / CLASSIFIER_FILE).is_file() else "segmentator score"
    if shipped == "shipped":
        scorings["shipped"] = CandidateClassifier.load(target / CLASSIFIER_FILE).predict(found.features)
    scorings["new"] = CandidateClassifier.load(args.run / CLASSIFIER_FILE).predict(found.features)
    result = {"validation_images": int(len(val)),
              "negative_images": int(sum(found.n_truth[i] == 0 for i in val)), "sensitivity_at_fppi": {}}
    for name, scores in scorings.items():
        curve = curve_of(found, scores, val)
        result["calcifications"] = int(curve.n_truth)
        result["sensitivity_at_fppi"][name] = {f"{f:g}": round(float(curve.sensitivity_at(f)), 4) for f in FPPI}
    at1 = {name: result["sensitivity_at_fppi"][name]["1"] for name in scorings}
    best = max(at1.values())
    result["winner"] = shipped if at1[shipped] == best else max(at1, key=at1.get)
    result["weights"] = args.weights
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    if args.adopt and result["winner"] == "new":
        for name in (CLASSIFIER_FILE, "candidate_classifier.json"):
            shutil.copy2(args.run / name, target / name)
        print(f"new classifier adopted into {target}")
    elif args.adopt and result["winner"] == "segmentator score" and shipped == "shipped":
        for name in (CLASSIFIER_FILE, "candidate_classifier.json"):
            (target / name).unlink()
        print(f"classifier removed from {target}: its networks score alone")


if __name__ == "__main__":
    main()

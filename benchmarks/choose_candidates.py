"""Apply the rule that decides how the 0.07 mm weights list their candidates (a benchmark, not a test).

    .venv/bin/python benchmarks/choose_candidates.py [--weights fine|coarse] [--adopt]

Written and committed (issue 15, 2026-12-07) before the judge images below were run by either
candidate kind, and before any evaluation image was run with a classifier fitted on peak candidates.

Why: on the vendor-0.07mm evaluation set 94% of calcifications have a segmentator probability of 0.5
or more within 0.5 mm, but only 62.5% a listed candidate there; one candidate per region of the
candidate-level mask loses the calcifications that share a region with a stronger peak. A probe on
training-side images (benchmarks/peak_candidates_probe.py) found peak candidates worth trying.

The two kinds, each with the classifier fitted on its own candidates:
  regions  one candidate per region (what ships), scored by the shipped classifier
           (mcseg/weights/candidate_classifier.npz, fitted on runs/fine-classifier);
  peaks    PipelineConfig.candidate_peak_separation_mm = 0.28 (every peak of 0.3 and more,
           components.PEAK_FLOOR, at least 0.28 mm from a higher one; weaker regions keep one
           candidate), scored by a classifier fitted the same way on the same 90 training images
           (`mcseg train-classifier runs/fine-classifier/data -o runs/fine-classifier-peaks2
           --candidate-peaks-mm 0.28`: the same split, seed and calibration).
Judge images (runs/fine-judge/data): fresh draws by scripts/train_fine_classifier.sh's recipe with
new seeds, 3311 (20 FFDM-like phantoms at 0.05-0.075 mm), 3312 (4 plain phantoms) and 3313 (12 images
with calcifications in the CBIS-DDSM films of P_00173), made with the commands in JUDGE_DATA. Neither
classifier was fitted or calibrated on them and no earlier choice has seen them. Each image is run by
both kinds in turn (the networks, then the kind's classifier), and each kind is scored by
calcification sensitivity at 0.25-4 FP/image over all judge images (the evaluation's hit rule).

Peaks are adopted when all three hold:
  1. sensitivity at 1 FP/image at least 0.02 above regions';
  2. sensitivity at 0.25 FP/image at most 0.02 below regions';
  3. total pipeline seconds over the judge images at most 1.5 times regions' (same machine, same run,
     the kinds interleaved per image).
If 1 and 2 hold and 3 fails, peaks wait for a faster listing; condition 3 alone may then be measured
again after a change that leaves every candidate's features identical (the script checks that
against the stored harvest). With --adopt a "peaks" verdict copies the peaks classifier into
mcseg/weights/ (it records the separation, so pipelines that load it list peaks). Writes
benchmarks/candidate_kind_choice.json.

The same rule, unchanged, decides the coarse weights' listing (``--weights coarse``; written down and
committed on 2026-12-07 before their judge images were run by either kind): regions with the shipped
coarse classifier (mcseg/weights/coarse, fitted on runs/coarse-classifier-2) against peaks with a
classifier fitted on the same 130 training images (`mcseg train-classifier runs/coarse-classifier-2/data
-o runs/coarse-classifier-peaks --weights mcseg/weights/coarse --candidate-peaks-mm 0.28`). Judge
images (runs/coarse-judge/data, 40): fresh draws by scripts/train_coarse_classifier.sh's recipe,
seeds 3211 (20 FFDM-like phantoms at 0.085-0.2 mm), 3213 (4 in P_00173's films at 0.1 and 0.14 mm),
3214 (8 in mini-MIAS normal films of patients 1-80, 0.2 mm), and 8 of those normal films as they are
(the odd-numbered ones of the folder, which the classifier's training left out), made by
COARSE_JUDGE_DATA. Verdict in benchmarks/coarse_candidate_kind_choice.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcseg.defaults import PipelineConfig
from mcseg.fp_reduction import CLASSIFIER_FILE, PEAK_SEPARATION_META, CandidateClassifier
from mcseg.pipeline import Pipeline
from mcseg.training import find_cases
from mcseg.training.candidate_classifier import Harvest, curve_of, harvest

ROOT = Path(__file__).resolve().parent.parent
SEPARATION_MM = 0.28
FPPI = (0.25, 0.5, 1.0, 2.0, 4.0)
JUDGE_DATA = [
    "synth {d} -n 20 --seed 3311 --pixel-sizes-mm 0.05 0.055 0.06 0.065 0.07 0.075 --ffdm-share 0.8 "
    "--eight-bit-share 0.3 --contrast-range 2 20 --prefix ffdm",
    "synth {d} -n 4 --seed 3312 --prefix plain",
    "synth {d} -n 12 --seed 3313 --mode real-background --backgrounds "
    "../shared/data/cbis-ddsm-sample/cases/sfm-benign-0 --pixel-sizes-mm 0.05 0.07 --eight-bit-share 0.3 "
    "--contrast-range 2 20 --prefix cbis",
]
COARSE_JUDGE_DATA = [
    "synth {d} -n 20 --seed 3211 --pixel-sizes-mm 0.085 0.094 0.1 0.12 0.14 0.17 0.2 --ffdm-share 0.8 "
    "--eight-bit-share 0.3 --contrast-range 2 20 --prefix ffdm",
    "synth {d} -n 4 --seed 3213 --mode real-background --backgrounds "
    "../shared/data/cbis-ddsm-sample/cases/sfm-benign-0 --pixel-sizes-mm 0.1 0.14 --eight-bit-share 0.3 "
    "--contrast-range 2 20 --prefix cbis",
    "synth {d} -n 8 --seed 3214 --mode real-background --backgrounds runs/coarse-classifier-2/mias-normals "
    "--pixel-sizes-mm 0.2 --contrast-range 2 20 --prefix mias",
    "and copy the odd-numbered 8 of runs/coarse-classifier-2/mias-normals/*.dcm (1st, 3rd, ...) with their labels",
]


@dataclass(frozen=True)
class Scope:
    """One weights folder's question: where its judge images and its peaks classifier are."""

    judge: Path
    images: int
    peaks_run: Path
    weights: Path
    judge_data: list[str]
    verdict: Path


SCOPES = {
    "fine": Scope(ROOT / "runs" / "fine-judge", 36, ROOT / "runs" / "fine-classifier-peaks2",
                  ROOT / "mcseg" / "weights", JUDGE_DATA, ROOT / "benchmarks" / "candidate_kind_choice.json"),
    "coarse": Scope(ROOT / "runs" / "coarse-judge", 40, ROOT / "runs" / "coarse-classifier-peaks",
                    ROOT / "mcseg" / "weights" / "coarse", COARSE_JUDGE_DATA,
                    ROOT / "benchmarks" / "coarse_candidate_kind_choice.json"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", choices=sorted(SCOPES), default="fine")
    parser.add_argument("--adopt", action="store_true")
    args = parser.parse_args()
    scope = SCOPES[args.weights]
    cases = find_cases(scope.judge / "data")
    if len(cases) != scope.images:
        raise SystemExit(f"expected the {scope.images} judge images in {scope.judge / 'data'}; make them with: "
                         + "; ".join("mcseg " + c.format(d=scope.judge / "data") for c in scope.judge_data))
    kinds = {"regions": (None, CandidateClassifier.load(scope.weights / CLASSIFIER_FILE)),
             "peaks": (SEPARATION_MM, CandidateClassifier.load(scope.peaks_run / CLASSIFIER_FILE))}
    if kinds["peaks"][1].meta.get(PEAK_SEPARATION_META) != SEPARATION_MM:
        raise SystemExit(f"{scope.peaks_run / CLASSIFIER_FILE} was not fitted on peak candidates "
                         f"{SEPARATION_MM} mm apart")
    # The scope's own networks on every judge image (the bundled pipeline's routing by pixel size has
    # moved since this rule ran; its judge images were all served by these networks then).
    pipelines = {name: Pipeline.from_weights(scope.weights / "detector.pt", scope.weights / "segmentator.pt",
                                             config=PipelineConfig(candidate_peak_separation_mm=sep),
                                             classifier_path=None, coarse_dir=None) for name, (sep, _) in kinds.items()}
    parts: dict[str, list[Harvest]] = {name: [] for name in kinds}
    seconds = {name: 0.0 for name in kinds}
    for i, case in enumerate(cases):
        for name, (_, clf) in kinds.items():
            start = time.perf_counter()
            found = harvest(pipelines[name], [case], progress=False)
            clf.predict(found.features)  # the classifier's share of the time
            seconds[name] += time.perf_counter() - start
            parts[name].append(found)
        print(f"{i + 1}/{len(cases)} {case.image_id}: " + ", ".join(
            f"{name} {len(p[-1].hits)} candidates" for name, p in parts.items()), flush=True)
    result = {"weights": args.weights, "judge_images": len(cases), "separation_mm": SEPARATION_MM, "sensitivity_at_fppi": {},
              "candidates": {}, "seconds_total": {k: round(v, 1) for k, v in seconds.items()}}
    every = np.arange(len(cases))
    for name, (sep, clf) in kinds.items():
        found = Harvest.concatenate(parts[name])
        cache = scope.judge / f"candidates_{name}.npz"
        if cache.is_file() and not np.array_equal(Harvest.load(cache).features, found.features):
            result.setdefault("changed_since_stored", []).append(name)
        found.save(cache)
        curve = curve_of(found, clf.predict(found.features), every)
        result["calcifications"] = int(curve.n_truth)
        result["candidates"][name] = int(len(found.hits))
        result["sensitivity_at_fppi"][name] = {f"{f:g}": round(float(curve.sensitivity_at(f)), 4) for f in FPPI}
    sens = result["sensitivity_at_fppi"]
    result["conditions"] = {
        "1: +0.02 at 1 FP/image": sens["peaks"]["1"] >= sens["regions"]["1"] + 0.02,
        "2: at most -0.02 at 0.25 FP/image": sens["peaks"]["0.25"] >= sens["regions"]["0.25"] - 0.02,
        "3: at most 1.5x the seconds": seconds["peaks"] <= 1.5 * seconds["regions"],
    }
    result["winner"] = "peaks" if all(result["conditions"].values()) else "regions"
    scope.verdict.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    if args.adopt and result["winner"] == "peaks":
        for name in (CLASSIFIER_FILE, "candidate_classifier.json"):
            shutil.copy2(scope.peaks_run / name, scope.weights / name)
        print(f"peak candidates adopted: the peaks classifier copied into {scope.weights}")


if __name__ == "__main__":
    main()

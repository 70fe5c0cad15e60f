"""Apply the rule that chooses the default weights (written before any evaluation image was run).

    .venv/bin/python benchmarks/choose_weights.py runs/default-weights-2 [--adopt]

Rule: the candidate weights (DIR/detector.pt, DIR/segmentator.pt, from
scripts/train_default_weights.sh) replace the bundled ones if their calcification sensitivity at
1 false positive per image is higher than the bundled weights' on the same images: the training
run's own validation images (the hash split's held-out 20% of its folder, real mini-MIAS negatives
among them), no image of any evaluation set. Both with the 8-view average. With --adopt the
candidate is copied to mcseg/weights/ when it wins. Writes DIR/choice.json.

With --coarse (weights from scripts/train_coarse_weights.sh, working at 0.14 mm), the rule is the
same on the validation images whose own pixel is at least 0.11 mm (then
defaults.COARSE_INPUT_MIN_SPACING_MM), the inputs the coarse weights would serve: they are adopted (copied to
mcseg/weights/coarse/) if the coarse networks' sensitivity at 1 FP/image on those images is higher
than the bundled pipeline's as it runs today (0.07 mm, with its candidate classifier). Written and
committed before any evaluation image was run with the coarse weights. Writes DIR/choice.json.

With --route-from MM (no candidate folder needed; the bundled weights only), the rule decides
where the coarse weights' range starts: on the bundled weights' validation images whose own pixel
lies in [MM, 0.11 mm), the coarse pipeline (its networks and its
candidate classifier, forced onto those inputs) replaces the fine one (0.07 mm, with its candidate
classifier, as served today) if its sensitivity at 1 FP/image on those images is higher; then
COARSE_INPUT_MIN_SPACING_MM is to be lowered to MM. Written and committed (issue 15, session of
2026-12-06) before any evaluation image was run with that routing. Writes
benchmarks/coarse_route_choice.json.

With --route-from MM --route-to TO the same rule judges only the validation images in [MM, TO): used
on 2026-12-07 for [0.06, 0.08 mm), whether 0.07 mm FFDM should go to the coarse weights too, written
to benchmarks/coarse_route_choice_MM-TO.json. That use was not blind: the vendor-0.07mm evaluation
set had been run with both routings before (README, Evaluation).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from mcseg.io import read_mammogram
from mcseg.pipeline import Pipeline
from mcseg.training import find_cases
from mcseg.training.calibrate import calibrate_operating_threshold

ROOT = Path(__file__).resolve().parent.parent
#: Where the coarse weights' range started when both rules were written and run (then
#: defaults.COARSE_INPUT_MIN_SPACING_MM; --route-from has since moved that to 0.08 mm). Kept
#: fixed here so that rerunning either rule judges the same images.
RULES_COARSE_FROM_MM = 0.11


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidate", type=Path, nargs="?")
    parser.add_argument("--adopt", action="store_true")
    parser.add_argument("--coarse", action="store_true",
                        help="coarse-pixel weights: judged on the validation images they would serve")
    parser.add_argument("--route-from", type=float, metavar="MM",
                        help="judge serving [MM, COARSE_INPUT_MIN_SPACING_MM) inputs by the bundled coarse weights")
    parser.add_argument("--route-to", type=float, metavar="TO", default=RULES_COARSE_FROM_MM,
                        help=f"with --route-from: judge on the images in [MM, TO) (default {RULES_COARSE_FROM_MM})")
    args = parser.parse_args()
    if args.route_from is not None:
        choose_route(args.route_from, args.route_to)
        return
    if args.candidate is None:
        parser.error("give the candidate weights' folder (or --route-from)")
    report = json.loads((args.candidate / "training.json").read_text())
    held_out = set(report["validation_images"])
    cases = [c for c in find_cases(report["data"]) if c.image_id in held_out]
    if args.coarse:
        cases = [c for c in cases if min(read_mammogram(c.image_path).spacing_mm) >= RULES_COARSE_FROM_MM]
    result = {"validation_images": len(cases), "coarse": args.coarse,
              "negatives": sum(1 for c in cases if c.image_id.startswith("mias_normal_"))}
    for name, folder in (("bundled", ROOT / "mcseg" / "weights"), ("candidate", args.candidate)):
        # The 0.07 mm pipeline, as it served every input when this rule ran (no routing).
        pipeline = Pipeline.from_weights(folder / "detector.pt", folder / "segmentator.pt", coarse_dir=None)
        result[name] = calibrate_operating_threshold(pipeline, cases, 1.0, progress=True)
    result["candidate_wins"] = result["candidate"]["sensitivity"] > result["bundled"]["sensitivity"]
    (args.candidate / "choice.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    if args.adopt and result["candidate_wins"]:
        target = ROOT / "mcseg" / "weights" / ("coarse" if args.coarse else "")
        target.mkdir(exist_ok=True)
        for name in ("detector.pt", "segmentator.pt", "training.json"):
            shutil.copy2(args.candidate / name, target / name)
        print(f"candidate adopted into {target}")


def choose_route(route_from_mm: float, route_to_mm: float = RULES_COARSE_FROM_MM) -> None:
    """The --route-from rule (see the module docstring)."""
    weights = ROOT / "mcseg" / "weights"
    # The coarse weights were trained on the same folder with the same hash split (same validation
    # images); their training.json points at the copy of it that this checkout keeps.
    report = json.loads((weights / "coarse" / "training.json").read_text())
    held_out = set(report["validation_images"])
    cases = [c for c in find_cases(report["data"]) if c.image_id in held_out
             and route_from_mm <= min(read_mammogram(c.image_path).spacing_mm) < route_to_mm]
    result = {"route_from_mm": route_from_mm, "route_to_mm": route_to_mm,
              "validation_images": len(cases)}
    fine = Pipeline.from_weights(weights / "detector.pt", weights / "segmentator.pt", coarse_dir=None)
    coarse = Pipeline.from_weights(weights / "coarse" / "detector.pt", weights / "coarse" / "segmentator.pt",
                                   coarse_dir=None)
    result["fine"] = calibrate_operating_threshold(fine, cases, 1.0, progress=True)
    result["coarse"] = calibrate_operating_threshold(coarse, cases, 1.0, progress=True)
    result["coarse_wins"] = result["coarse"]["sensitivity"] > result["fine"]["sensitivity"]
    name = ("coarse_route_choice.json" if route_to_mm == RULES_COARSE_FROM_MM
            else f"coarse_route_choice_{route_from_mm:g}-{route_to_mm:g}.json")
    (ROOT / "benchmarks" / name).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

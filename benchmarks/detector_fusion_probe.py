"""Does Cortina's retrained object detector, asked about the pipeline's candidates, rank them better?
(issue 15; a probe that chooses and ships nothing)

    .venv/bin/python benchmarks/detector_fusion_probe.py     # about 5 minutes here, alone
    # writes benchmarks/detector_fusion_probe.json, runs/detector-fusion/

Why: trained on the same data (scripts/train_baselines_vendor.sh), Cortina et al.'s RetinaNet-style
detector found 0.770 of ffdm-like's calcifications at 1 FP/image against the pipeline's 0.774, and more
from 2 FP/image up (compare_models_vendor.json). If the two miss different calcifications, a score that
asks both should rank the pipeline's candidates better than either.

**The arms** (each calcification's score; the masks and clusters are the pipeline's, untouched):

* ``pipeline``: the default ``mcseg segment`` as it ships, its calcification scores;
* ``mean``: each pipeline candidate's score averaged with the retrained detector's highest score among
  its detections whose centre lies within 0.5 mm of the candidate's centroid (0 where there is none);
* ``union``: ``mean``, plus each detection with no pipeline candidate within 0.5 mm, at half its score.

The 0.5 mm is the evaluation's hit radius (mcseg/evaluation); nothing here is fitted.

**The rule, written and committed before this script first ran.** The judge is 48 fresh crops of the
two real FFDM files that neither model was trained on (runs/native-confirm: 12 GE and 12 Siemens crops
at 0.07 mm, seeds 9411-9414; runs/coarse-vendor-judge-a: 12 of each at the file's own pixel and as
0.14 mm 8-bit copies, seeds 9451-9454), pooled, scored by mcseg.evaluation.report.evaluate_folder with
their ignore circles. A fusion arm *pays* if it finds at least 0.02 more at 1 FP/image than ``pipeline``
and not less at 0.25 FP/image; the verdict is the paying arm with the most at 1 FP/image (``mean`` on a
tie), or none. Every arm is then scored once on the evaluation sets with truth (synthetic,
real-background, ffdm-like, vendor-0.07mm: evaluate_default.py's pipeline predictions under
runs/evaluation, the retrained detector's under runs/baselines-vendor/compare), and on cbis-negatives
the false positives per film at each arm's judged 1 FP/image threshold, for the record; those figures
choose nothing.

**What it is not.** Both models saw other crops of the same two breasts in training (the native
weights and the retrained detector alike), so the judge is held out by crop, not by patient. Nothing
ships from it either way: the detector costs 4-24 s per image on these 2 cores (issue 16's budget is
5 s for the whole pipeline), so a fusion that pays is a lead for a detector run only around the
pipeline's candidates, to be built and judged again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from compare_models import run_outlining  # noqa: E402

from mcseg.baselines.cortina.detection import CortinaDetectorModel  # noqa: E402
from mcseg.evaluation.report import evaluate_folder  # noqa: E402

RADIUS_MM = 0.5
MARGIN_AT_1 = 0.02
ARMS = ("pipeline", "mean", "union")
DETECTOR = ROOT / "runs" / "baselines-vendor" / "cortina-detector" / "cortina_detector.pt"
JUDGE = [ROOT / "runs" / "native-confirm" / "train-ge", ROOT / "runs" / "native-confirm" / "train-siemens",
         ROOT / "runs" / "coarse-vendor-judge-a" / "train-ge", ROOT / "runs" / "coarse-vendor-judge-a" / "train-siemens"]
EVALUATION = ("synthetic", "real-background", "ffdm-like", "vendor-0.07mm")
WORK = ROOT / "runs" / "detector-fusion"


def fused_arms(pipeline_doc: dict, detector_doc: dict) -> dict[str, list[dict]]:
    """The pipeline's calcifications with each arm's scores (``union`` adds the detector's own)."""
    calcs = pipeline_doc["calcifications"]
    radius_px = RADIUS_MM / float(np.mean(pipeline_doc["spacing_mm"]))
    dets = detector_doc["calcifications"]
    det_xy = np.array([d["centroid_px"] for d in dets], float).reshape(-1, 2)
    det_score = np.array([d["score"] for d in dets], float)
    calc_xy = np.array([c["centroid_px"] for c in calcs], float).reshape(-1, 2)
    near = cKDTree(det_xy).query_ball_point(calc_xy, radius_px) if len(dets) and len(calcs) else [[]] * len(calcs)
    mean = [dict(c, score=(c["score"] + (float(det_score[idx].max()) if idx else 0.0)) / 2)
            for c, idx in zip(calcs, near)]
    alone = (cKDTree(calc_xy).query_ball_point(det_xy, radius_px, return_length=True) == 0 if len(calcs)
             else np.ones(len(dets), bool)) if len(dets) else np.zeros(0, bool)
    next_id = max((c["id"] for c in calcs), default=0) + 1
    extra = [{"id": next_id + k, "centroid_px": dets[i]["centroid_px"], "area_mm2": dets[i]["area_mm2"],
              "score": float(det_score[i]) / 2, "in_mask": False, "uncertainty": None}
             for k, i in enumerate(np.flatnonzero(alone))]
    return {"pipeline": calcs, "mean": mean, "union": mean + extra}


def write_arms(pipeline_pred: Path, detector_pred: Path, out: Path) -> dict[str, Path]:
    """One folder of prediction JSONs per arm (the pipeline's masks linked beside them); each pair of
    predictions is read once."""
    folders = {arm: out / arm for arm in ARMS}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(pipeline_pred.glob("*.json")):
        det_path = detector_pred / path.name
        if not det_path.is_file():
            raise SystemExit(f"{det_path}: the detector has no prediction for this image")
        doc = json.loads(path.read_text())
        mask = path.with_name(path.name[: -len(".json")] + ".mask.nrrd")
        for arm, calcs in fused_arms(doc, json.loads(det_path.read_text())).items():
            (folders[arm] / path.name).write_text(json.dumps(doc | {"calcifications": calcs}))
            link = folders[arm] / mask.name
            if mask.is_file() and not link.exists():
                link.symlink_to(mask.resolve())
    return folders


def figures(summary: dict, curve) -> dict:
    calc = summary["calcification"]
    return {"sensitivity_at_fppi": {k: calc["sensitivity_at_fppi"][k] for k in ("0.25", "1", "4")},
            "aufroc_0_50": calc["aufroc_0_50"], "ci95_at_1": calc["ci95"]["1"], "truth": calc["truth"],
            "images": summary["images"], "threshold_at_1": curve.threshold_at(1.0)}


def predict_judge(folder: Path, out: Path, detector: CortinaDetectorModel) -> tuple[Path, Path]:
    """The default pipeline's and the retrained detector's predictions on one judge folder (made once)."""
    images = sorted(folder.glob("*.dcm"))
    pipe, det = out / "pipeline-pred", out / "detector-pred"
    if len(list(pipe.glob("*.json"))) != len(images):
        subprocess.run([str(ROOT / ".venv" / "bin" / "mcseg"), "segment", *map(str, images), "-o", str(pipe),
                        "--overwrite", "--no-progress"], check=True)
    if len(list(det.glob("*.json"))) != len(images):
        run_outlining(detector, images, det, None, f"detector {folder.parent.name}/{folder.name}")
    return pipe, det


def score(folders: dict[str, Path], truth: Path | list[Path], n_boot: int) -> dict:
    out = {}
    for arm, folder in folders.items():
        summary, curves = evaluate_folder(folder, truth, n_boot=n_boot)
        out[arm] = figures(summary, curves["calcification"])
    return out


def pooled_judge(detector: CortinaDetectorModel, n_boot: int) -> dict:
    """The judge's 48 crops pooled: every arm's predictions gathered into one folder per arm, with their
    truth files linked into one folder."""
    truth = WORK / "judge" / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    pooled = {arm: WORK / "judge" / arm for arm in ARMS}
    for folder in JUDGE:
        name = f"{folder.parent.name}-{folder.name}"
        pipe, det = predict_judge(folder, WORK / "judge-runs" / name, detector)
        arms = write_arms(pipe, det, WORK / "judge-runs" / name / "arms")
        for arm, arm_folder in arms.items():
            pooled[arm].mkdir(parents=True, exist_ok=True)
            for f in arm_folder.iterdir():
                link = pooled[arm] / f.name
                if not link.exists():
                    link.symlink_to(f.resolve())
        for f in folder.iterdir():
            if ".gt." in f.name and not (truth / f.name).exists():
                (truth / f.name).symlink_to(f.resolve())
    return score(pooled, truth, n_boot)


def verdict(judge: dict) -> str | None:
    ref = judge["pipeline"]["sensitivity_at_fppi"]
    paying = [arm for arm in ("mean", "union")
              if judge[arm]["sensitivity_at_fppi"]["1"] >= ref["1"] + MARGIN_AT_1
              and judge[arm]["sensitivity_at_fppi"]["0.25"] >= ref["0.25"]]
    return max(paying, key=lambda a: (judge[a]["sensitivity_at_fppi"]["1"], a == "mean")) if paying else None


def cbis_false_positives(thresholds: dict[str, float]) -> dict:
    """False positives per CBIS film at each arm's judged 1 FP/image threshold (every listed calcification
    at or above it is false: the films have no annotated calcification)."""
    pipe = ROOT / "runs" / "evaluation" / "cbis-negatives" / "pred"
    det = ROOT / "runs" / "baselines-vendor" / "compare" / "cortina_detector" / "cbis-negatives" / "pred"
    arms = write_arms(pipe, det, WORK / "cbis-negatives")
    out = {}
    for arm, folder in arms.items():
        counts = [sum(c["score"] >= thresholds[arm] for c in json.loads(p.read_text())["calcifications"])
                  for p in sorted(folder.glob("*.json"))]
        out[arm] = {"films": len(counts), "false_positives_per_film": round(float(np.mean(counts)), 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    detector = CortinaDetectorModel.from_weights(DETECTOR)
    result = {"rule": "a fusion arm pays if >= 0.02 more at 1 FP/image than the pipeline on the judge and not "
                      "less at 0.25; the paying arm with the most at 1 FP/image, or none; nothing ships",
              "detector": str(DETECTOR.relative_to(ROOT)), "radius_mm": RADIUS_MM}
    result["judge"] = pooled_judge(detector, args.bootstrap)
    result["verdict"] = verdict(result["judge"])
    print(json.dumps({"judge": result["judge"], "verdict": result["verdict"]}, indent=1), flush=True)
    result["evaluation"] = {}
    for name in EVALUATION:
        pipe = ROOT / "runs" / "evaluation" / name / "pred"
        det = ROOT / "runs" / "baselines-vendor" / "compare" / "cortina_detector" / name / "pred"
        arms = write_arms(pipe, det, WORK / name)
        result["evaluation"][name] = score(arms, ROOT / "runs" / "evaluation" / name / "data", args.bootstrap)
        print(name, json.dumps(result["evaluation"][name]), flush=True)
    result["cbis_negatives"] = cbis_false_positives({a: result["judge"][a]["threshold_at_1"] for a in ARMS})
    print(json.dumps(result["cbis_negatives"]), flush=True)
    (ROOT / "benchmarks" / "detector_fusion_probe.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

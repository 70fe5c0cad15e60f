"""What each operating point finds and costs, from the evaluation's stored predictions (a benchmark).

    .venv/bin/python benchmarks/operating_points.py     # after benchmarks/evaluate_default.py

The mask is decided from the candidates' classifier scores, which every prediction lists in full, so
other operating points can be read off without running the networks again: for each target of T
false positives per typical mammogram (T = 0.25, 0.5, 1, 2, 4; 1 is the default), each classifier's
threshold at T on its own validation images (as benchmarks/recalibrate_classifiers.py finds it), the
candidates that form a cluster from the threshold at max(T, 4) (the default cluster threshold), the
clusters formed again, and every set scored by the evaluation's own code (mcseg.evaluation.report).
At T = 1 the figures must come out as benchmarks/evaluation.json's (checked; the script stops
otherwise). Writes benchmarks/operating_points.json and benchmarks/operating_points.png:
calcifications found at the operating point against false positives per real normal image, one
point per T. Reading a point off these evaluation sets to make it the default would be choosing on
the evaluation images: the default stays what the rule written before chose (T = 1).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import evaluate_default as ed  # noqa: E402
import recalibrate_classifiers as rc  # noqa: E402

from mcseg.calcifications import find_clusters, promote_clustered  # noqa: E402
from mcseg.defaults import CLUSTER_AREA_MM2, CLUSTER_CALIBRATION_FP, CLUSTER_MIN_CALCIFICATIONS  # noqa: E402
from mcseg.evaluation.report import evaluate_folder  # noqa: E402
from mcseg.training.candidate_classifier import threshold_at  # noqa: E402

TARGETS = (0.25, 0.5, 1.0, 2.0, 4.0)
EVALUATION = ROOT / "runs" / "evaluation"


def thresholds() -> dict[float, dict[float, tuple[float, float]]]:
    """{shipped operating threshold: {T: (operating threshold at T, cluster threshold at max(T, 4))}}."""
    out = {}
    for folder, make in ((ROOT / "mcseg" / "weights", rc.fine_harvest),
                         (ROOT / "mcseg" / "weights" / "coarse", rc.coarse_harvest)):
        clf, found, val, curve = rc.validation_curve(folder, make)
        per = {t: (threshold_at(curve, found, val, t), threshold_at(curve, found, val, max(t, CLUSTER_CALIBRATION_FP)))
               for t in TARGETS}
        if per[1.0][0] != clf.operating_threshold:
            raise SystemExit(f"{folder}: T = 1 gives {per[1.0][0]}, not the shipped {clf.operating_threshold}")
        out[clf.operating_threshold] = per
    return out


def redecide(doc: dict, operating: float, cluster: float) -> dict:
    """The prediction with its mask decisions and clusters made again at these thresholds."""
    doc = json.loads(json.dumps(doc))
    calcs = doc["calcifications"]
    spacing = np.asarray(doc["spacing_mm"], float)
    mm = np.array([c["centroid_px"] for c in calcs], float).reshape(-1, 2) * spacing
    scores = np.array([c["score"] for c in calcs], float)
    inside = promote_clustered(mm, scores, scores >= operating, cluster, CLUSTER_MIN_CALCIFICATIONS,
                               CLUSTER_AREA_MM2)
    for c, keep in zip(calcs, inside):
        c["in_mask"] = bool(keep)
    strong = np.flatnonzero(inside)
    doc["clusters"] = [{"id": k + 1, "members": [calcs[strong[m]]["id"] for m in cl.members],
                        "centroid_px": np.mean([calcs[strong[m]]["centroid_px"] for m in cl.members], axis=0).tolist(),
                        "score": cl.score}
                       for k, cl in enumerate(find_clusters(mm[strong], scores[strong], CLUSTER_MIN_CALCIFICATIONS,
                                                            CLUSTER_AREA_MM2))]
    return doc


def score(name: str, pred_dir: Path) -> dict:
    """The set's operating-point figures, scored as evaluate_default.py scores it."""
    if name == "mini-mias":
        calc, normal = ed.mias_references()
        summary, _ = evaluate_folder(pred_dir, mias_info=ed.MIAS / "Info.txt", spacing_mm=0.2, n_boot=0)
        return {"clusters": summary["cluster"]["sensitivity_at_fppi"]["0.2"],
                "fp_per_normal": ed.normal_false_positives(pred_dir, normal)["mean"]}
    if name == "cbis-negatives":
        summary, _ = evaluate_folder(pred_dir, EVALUATION / name / "truth", negatives_without_truth=True, n_boot=0)
        return {"fp_per_normal": summary["calcification"]["fppi_at_operating_point"]}
    summary, _ = evaluate_folder(pred_dir, EVALUATION / name / "data", n_boot=0)
    op = summary["calcification"]["operating_point"]
    return {"clusters": summary["cluster"]["sensitivity_at_fppi"]["0.2"], "fp_per_image": op["fppi"],
            "sensitivity": op["sensitivity"]}


def main() -> None:
    stored = json.loads((ROOT / "benchmarks" / "evaluation.json").read_text())
    table = thresholds()
    sets = ("real-background", "ffdm-like", "vendor-0.07mm", "cbis-negatives", "mini-mias")
    result: dict = {"targets_fp_per_typical_mammogram": list(TARGETS), "thresholds": {
        f"shipped {k}": {f"{t:g}": v for t, v in per.items()} for k, per in table.items()}, "sets": {}}
    work = Path(tempfile.mkdtemp(prefix="mcseg-operating-points-"))
    try:
        for name in sets:
            source = EVALUATION / name / "pred"
            result["sets"][name] = {}
            for target in TARGETS:
                out = work / name / f"{target:g}"
                out.mkdir(parents=True)
                for path in source.glob("*.json"):
                    doc = json.loads(path.read_text())
                    shipped = doc["weights"]["candidate_classifier"]["operating_threshold"]
                    operating, cluster = table[shipped][target]
                    (out / path.name).write_text(json.dumps(redecide(doc, operating, cluster)))
                result["sets"][name][f"{target:g}"] = score(name, out)
            print(name, json.dumps(result["sets"][name]), flush=True)
            check = result["sets"][name]["1"]
            figures = stored[name]
            expected = (figures.get("cluster", {}).get("sensitivity_at_fppi", {}).get("0.2"),
                        figures.get("normals_calcification_fp", {}).get("mean")
                        or figures.get("calcification", {}).get("fppi_at_operating_point")
                        or figures.get("calcification", {}).get("operating_point", {}).get("fppi"))
            got = (check.get("clusters"), check.get("fp_per_normal", check.get("fp_per_image")))
            if got != expected:
                raise SystemExit(f"{name}: at T = 1 the stored predictions read {got}, evaluation.json {expected}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (ROOT / "benchmarks" / "operating_points.json").write_text(json.dumps(result, indent=1))
    plot(result)


def plot(result: dict) -> None:
    """Calcifications found at the operating point against false positives per real normal image
    (CBIS films, and mini-MIAS normals), one line per set with inserted calcifications."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = result["sets"]
    targets = [f"{t:g}" for t in result["targets_fp_per_typical_mammogram"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, normals, what in ((axes[0], "cbis-negatives", "per CBIS film (real, no calcification annotated)"),
                              (axes[1], "mini-mias", "per mini-MIAS normal image (real)")):
        x = [sets[normals][t]["fp_per_normal"] for t in targets]
        for name in ("real-background", "ffdm-like", "vendor-0.07mm"):
            y = [sets[name][t]["sensitivity"] for t in targets]
            clusters = sets[name]["1"]["clusters"]
            ax.plot(x, y, marker="o", label=f"{name} (clusters found: {clusters:.3f} at every point)")
            for xi, yi, t in zip(x, y, targets):
                ax.annotate(f"T={t}" + (" (default)" if t == "1" else ""), (xi, yi), textcoords="offset points",
                            xytext=(3, 3), fontsize=6)
        ax.axvline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(f"false positives at the operating point, {what}", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("calcifications found at the operating point")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Operating points at T false positives per typical mammogram (128 cm^2 of breast); "
                 "clustered candidates from max(T, 4)", fontsize=9)
    fig.tight_layout()
    fig.savefig(ROOT / "benchmarks" / "operating_points.png", dpi=120)


if __name__ == "__main__":
    main()

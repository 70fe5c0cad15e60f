"""Evaluate a folder of predictions (the output contract) against ground truth; write the report.

Produces ``summary.json`` (everything), ``froc.png`` (calcification and
cluster FROC) and ``report.md`` (what a person reads first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mcseg.calcifications import find_clusters
from mcseg.defaults import CLUSTER_AREA_MM2, CLUSTER_MIN_CALCIFICATIONS
from mcseg.evaluation.froc import (CLUSTER_DILATION_MM, FrocCurve, ImageMatch, aufroc, bootstrap_froc,
                                   calcification_hit_rule, cluster_hit_rule, froc, match_clusters, match_points,
                                   without_ignored)
from mcseg.evaluation.overlap import Overlap
from mcseg.evaluation.patch_table import patch_error_table
from mcseg.evaluation.truth import GroundTruth, TruthCluster, find_truth, read_mias_info
from mcseg.io.labels import read_label

CALC_FPPI = (0.25, 0.5, 1.0, 2.0, 4.0)
CLUSTER_FPPI = (0.1, 0.2, 0.5, 1.0)
MAX_FPPI = 50.0


@dataclass
class Prediction:
    stem: str
    document: dict[str, Any]
    mask_path: Path | None


def load_predictions(folder: str | Path) -> list[Prediction]:
    """Every ``S.json`` of the output contract in ``folder`` (with ``S.mask.nrrd`` when present)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    out = []
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(".gt.json"):
            continue
        doc = json.loads(path.read_text())
        if "calcifications" not in doc or "shape" not in doc:
            continue
        stem = path.name[: -len(".json")]
        mask = folder / f"{stem}.mask.nrrd"
        out.append(Prediction(stem, doc, mask if mask.is_file() else None))
    if not out:
        raise FileNotFoundError(f"{folder}: no prediction JSON (output contract) found")
    return out


def derive_clusters(truth: GroundTruth, spacing_mm: tuple[float, float]) -> list[TruthCluster]:
    """Clusters of a calcification-level truth by the radiological definition (for masks without a cluster list)."""
    if truth.n_calcifications < CLUSTER_MIN_CALCIFICATIONS:
        return []
    mm = truth.centres_px * np.asarray(spacing_mm)
    found = find_clusters(mm, np.ones(len(mm)), CLUSTER_MIN_CALCIFICATIONS, CLUSTER_AREA_MM2)
    out = []
    for cl in found:
        members = truth.centres_px[list(cl.members)]
        centre = members.mean(0)
        radius_px = float(np.hypot(*(members - centre).T).max()) + 1.0
        out.append(TruthCluster((float(centre[0]), float(centre[1])), radius_px))
    return out


def _circles(circles: list[TruthCluster], shape: tuple[int, int]) -> np.ndarray:
    """Pixels inside any of ``circles`` (radius in pixels)."""
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    out = np.zeros(shape, dtype=bool)
    for c in circles:
        out |= (rows - c.centre_px[0]) ** 2 + (cols - c.centre_px[1]) ** 2 <= c.radius_px ** 2
    return out


def evaluate(
    predictions: list[Prediction],
    truths: dict[str, GroundTruth | None],
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, FrocCurve]]:
    """All figures for a set. ``truths[stem]`` None means a negative image (no calcification)."""
    calc_matches: list[ImageMatch] = []
    cluster_matches: list[ImageMatch] = []
    per_image, ious, notes = [], [], []
    pooled = Overlap()
    seconds = []
    unlocated = 0
    for pred in predictions:
        doc = pred.document
        truth = truths.get(pred.stem)
        spacing = tuple(doc["spacing_mm"])
        if truth is not None and truth.spacing_mm:
            spacing = truth.spacing_mm
        calcs = doc["calcifications"]
        centroids = [c["centroid_px"] for c in calcs]
        scores = [c["score"] for c in calcs]
        row: dict[str, Any] = {"image": pred.stem, "seconds": doc.get("seconds")}
        if doc.get("seconds") is not None:
            seconds.append(float(doc["seconds"]))

        if truth is None or truth.calcifications_annotated:
            centres = np.zeros((0, 2)) if truth is None else truth.centres_px
            regions = None if truth is None else truth.regions
            m = match_points(centroids, scores, centres, regions, spacing)
            strong = np.array([c.get("in_mask", True) for c in calcs], dtype=bool)
            if truth is not None and truth.ignore:
                m, keep = without_ignored(m, centroids, truth.ignore, spacing)
                strong = strong[keep]
                row["ignored_detections"] = int((~keep).sum())
            calc_matches.append(m)
            row.update(truth_calcifications=m.n_truth, hits_at_operating_point=int((m.hits & strong).sum()),
                       false_positives_at_operating_point=int((~m.hits & strong).sum()))

        truth_clusters = [] if truth is None else truth.clusters
        if truth is not None and not truth.clusters_given and truth.calcifications_annotated:
            truth_clusters = derive_clusters(truth, spacing)
        n_unlocated = 0 if truth is None else truth.unlocated_clusters
        unlocated += n_unlocated
        clusters = doc.get("clusters", [])
        cluster_centroids = [c["centroid_px"] for c in clusters]
        cm = match_clusters(cluster_centroids, [c["score"] for c in clusters], truth_clusters, spacing, n_unlocated)
        if truth is not None and truth.ignore:
            cm, keep = without_ignored(cm, cluster_centroids, truth.ignore, spacing, CLUSTER_DILATION_MM)
            row["ignored_clusters"] = int((~keep).sum())
        cluster_matches.append(cm)
        row.update(truth_clusters=cm.n_truth, predicted_clusters=len(clusters), cluster_hits=int(cm.hits.sum()))

        truth_mask = None if truth is None else truth.mask
        if pred.mask_path is not None and (truth is None or truth_mask is not None):
            mask = read_label(pred.mask_path)
            tmask = np.zeros_like(mask) if truth_mask is None else truth_mask
            if tmask.shape == mask.shape and truth is not None and truth.ignore:
                mask = mask & ~(_circles(truth.ignore, mask.shape) & ~tmask.astype(bool))
            if tmask.shape == mask.shape:
                overlap = Overlap.of(mask, tmask)
                pooled = pooled + overlap
                ious.append(overlap.iou)
                row["iou"] = round(overlap.iou, 4)
            else:
                notes.append(f"{pred.stem}: predicted mask {mask.shape} and truth {tmask.shape} differ; no overlap")
        per_image.append(row)

    summary: dict[str, Any] = {"images": len(predictions),
                               "negative_images": sum(1 for p in predictions if truths.get(p.stem) is None)}
    curves: dict[str, FrocCurve] = {}
    if calc_matches and sum(m.n_truth for m in calc_matches):
        curve = froc(calc_matches)
        curves["calcification"] = curve
        strong_tp = sum(r.get("hits_at_operating_point", 0) for r in per_image)
        strong_fp = sum(r.get("false_positives_at_operating_point", 0) for r in per_image)
        summary["calcification"] = {
            "images": len(calc_matches), "truth": curve.n_truth,
            "sensitivity_at_fppi": {f"{f:g}": round(curve.sensitivity_at(f), 3) for f in CALC_FPPI},
            "aufroc_0_50": round(aufroc(curve, MAX_FPPI), 4),
            "ci95": bootstrap_froc(calc_matches, CALC_FPPI, n_boot, seed, MAX_FPPI) if n_boot else {},
            "operating_point": {"sensitivity": round(strong_tp / curve.n_truth, 3),
                                "fppi": round(strong_fp / len(calc_matches), 3)},
        }
    elif calc_matches:
        curve = froc(calc_matches)
        summary["calcification"] = {"images": len(calc_matches), "truth": 0,
                                    "fppi_at_operating_point": round(
                                        sum(r.get("false_positives_at_operating_point", 0) for r in per_image)
                                        / len(calc_matches), 3),
                                    "fppi_all_candidates": round(float(curve.fppi[-1]), 3)}
    n_cluster_truth = sum(m.n_truth for m in cluster_matches)
    ccurve = froc(cluster_matches)
    curves["cluster"] = ccurve
    summary["cluster"] = {"truth": n_cluster_truth, "unlocated_truth": unlocated,
                          "fppi_all_predicted": round(float(ccurve.fppi[-1]), 3)}
    if n_cluster_truth:
        summary["cluster"]["sensitivity_at_fppi"] = {f"{f:g}": round(ccurve.sensitivity_at(f), 3)
                                                     for f in CLUSTER_FPPI}
        if n_boot:
            ci = bootstrap_froc(cluster_matches, CLUSTER_FPPI, n_boot, seed, MAX_FPPI)
            summary["cluster"]["ci95"] = {k: v for k, v in ci.items() if k != "aufroc"}
    if ious:
        summary["overlap"] = {"images": len(ious), "dice_set": round(pooled.dice, 4),
                              "iou_set": round(pooled.iou, 4),
                              "iou_mean_per_image": round(float(np.mean(ious)), 4)}
    if seconds:
        summary["seconds_per_image"] = {"mean": round(float(np.mean(seconds)), 2),
                                        "max": round(float(np.max(seconds)), 2)}
    if any(truths.get(p.stem) is not None and truths[p.stem].ignore for p in predictions):
        summary["ignored"] = {key: sum(r.get(f"ignored_{key}", 0) for r in per_image)
                              for key in ("detections", "clusters")}
    summary["notes"] = notes
    summary["per_image"] = per_image
    return summary, curves


def plot_froc(curves: dict[str, FrocCurve], summary: dict[str, Any], path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, points in ((axes[0], "calcification", CALC_FPPI), (axes[1], "cluster", CLUSTER_FPPI)):
        curve = curves.get(key)
        ax.set_title(f"{key} FROC")
        ax.set_xlabel("false positives per image")
        ax.set_ylabel("sensitivity")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if curve is None or curve.n_truth == 0:
            ax.text(0.5, 0.5, "no ground truth at this level", ha="center", transform=ax.transAxes)
            continue
        ax.step(curve.fppi, np.maximum.accumulate(curve.sensitivity), where="post")
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlim(0, MAX_FPPI)
        ci = summary.get(key, {}).get("ci95", {})
        for f in points:
            s = curve.sensitivity_at(f)
            lo, hi = ci.get(f"{f:g}", (s, s))
            # A percentile interval of a few images need not hold the point itself: draw what lies
            # on each side of it (matplotlib refuses negative error bars).
            ax.errorbar([f], [s], yerr=[[max(s - lo, 0.0)], [max(hi - s, 0.0)]], fmt="o", color="C1", capsize=3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def markdown_report(summary: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", "", f"{summary['images']} images, {summary['negative_images']} of them negatives "
             "(no ground-truth calcification).", ""]
    calc = summary.get("calcification")
    if calc and calc.get("truth"):
        ci = calc.get("ci95", {})
        lines += ["## Calcifications", "",
                  f"{calc['truth']} ground-truth calcifications on {calc['images']} images. "
                  f"{calcification_hit_rule()}; false positives per image count every image.", "",
                  "| FP/image | " + " | ".join(calc["sensitivity_at_fppi"]) + " | AUFROC 0-50 |",
                  "|---|" + "---|" * (len(calc["sensitivity_at_fppi"]) + 1),
                  "| sensitivity | " + " | ".join(_with_ci(v, ci.get(k)) for k, v in calc["sensitivity_at_fppi"].items())
                  + f" | {_with_ci(calc['aufroc_0_50'], ci.get('aufroc'))} |", "",
                  f"At the operating threshold (the mask): sensitivity {calc['operating_point']['sensitivity']}, "
                  f"{calc['operating_point']['fppi']} false positives per image.", ""]
    elif calc:
        lines += ["## Calcifications", "", f"No ground-truth calcification: {calc['fppi_at_operating_point']} "
                  f"false positives per image at the operating threshold, {calc['fppi_all_candidates']} counting "
                  "every candidate.", ""]
    if summary.get("ignored"):
        ig = summary["ignored"]
        lines += [f"Not scored: {ig['detections']} detections and {ig['clusters']} predicted clusters inside the "
                  "ground truth's ignore circles (real findings it does not list).", ""]
    cl = summary["cluster"]
    lines += ["## Clusters", ""]
    if cl["truth"]:
        ci = cl.get("ci95", {})
        lines += [f"{cl['truth']} ground-truth clusters ({cl['unlocated_truth']} without a position, which no "
                  f"detection can hit). {cluster_hit_rule()}.", "",
                  "| FP/image | " + " | ".join(cl["sensitivity_at_fppi"]) + " |",
                  "|---|" + "---|" * len(cl["sensitivity_at_fppi"]),
                  "| sensitivity | " + " | ".join(_with_ci(v, ci.get(k)) for k, v in cl["sensitivity_at_fppi"].items())
                  + " |", ""]
    lines += [f"Predicted clusters per image (all): {cl['fppi_all_predicted']} false positives.", ""]
    if "overlap" in summary:
        o = summary["overlap"]
        lines += ["## Pixel overlap", "", f"Dice {o['dice_set']}, IoU {o['iou_set']} over the set; mean per-image "
                  f"IoU {o['iou_mean_per_image']} ({o['images']} images).", ""]
    if "patch_error_table" in summary:
        lines += ["## Per-class patch error (Valvano 2019 Table 2)", "", "| network | C1 | C2 | C3 | C4 | accuracy |",
                  "|---|---|---|---|---|---|"]
        for role, t in summary["patch_error_table"].items():
            e = t["error_rate_pct"]
            lines.append(f"| {role} | " + " | ".join(f"{e.get(c, float('nan')):.1f}%" for c in ("C1", "C2", "C3", "C4"))
                         + f" | {t['accuracy']:.1f}% |")
        lines.append("")
    if "seconds_per_image" in summary:
        lines += [f"Seconds per image: mean {summary['seconds_per_image']['mean']}, "
                  f"max {summary['seconds_per_image']['max']}.", ""]
    for note in summary.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines).rstrip() + "\n"


def _with_ci(value: float, ci: list[float] | None) -> str:
    return f"{value:.3f}" if not ci else f"{value:.3f} ({ci[0]:.2f}-{ci[1]:.2f})"


def write_report(summary: dict[str, Any], curves: dict[str, FrocCurve], out_dir: str | Path,
                 title: str = "Evaluation") -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"summary": out_dir / "summary.json", "plot": out_dir / "froc.png", "report": out_dir / "report.md"}
    paths["summary"].write_text(json.dumps(summary, indent=1))
    plot_froc(curves, summary, paths["plot"], title)
    paths["report"].write_text(markdown_report(summary, title))
    return paths


def evaluate_folder(
    predictions_dir: str | Path,
    truth_dir: str | Path | None = None,
    mias_info: str | Path | None = None,
    negatives_without_truth: bool = False,
    images_dir: str | Path | None = None,
    pipeline=None,
    spacing_mm: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, FrocCurve]]:
    """Match the predictions in a folder with their ground truth and compute every figure.

    Ground truth comes from ``truth_dir`` (S.gt.json / mask files) or a mini-MIAS
    ``Info.txt``. An image with no ground truth is an error unless
    ``negatives_without_truth``. With ``images_dir`` and a ``pipeline``, the
    per-class patch error table is added (for images with a truth mask).
    """
    predictions = load_predictions(predictions_dir)
    truths: dict[str, GroundTruth | None] = {}
    mias = read_mias_info(mias_info) if mias_info else {}
    missing = []
    for pred in predictions:
        truth = mias.get(pred.stem) if mias_info else (find_truth(truth_dir, pred.stem) if truth_dir else None)
        if truth is None and not negatives_without_truth:
            missing.append(pred.stem)
        truths[pred.stem] = truth
    if missing:
        raise FileNotFoundError(f"no ground truth for {len(missing)} image(s), e.g. {missing[:3]}; pass "
                                "--negatives-without-truth if they are negatives")
    summary, curves = evaluate(predictions, truths, n_boot, seed)
    if negatives_without_truth:
        summary["notes"].append(f"{summary['negative_images']} images without a ground-truth file were counted "
                                "as negatives")
    if images_dir is not None and pipeline is not None:
        cases = []
        for pred in predictions:
            truth = truths[pred.stem]
            image = Path(images_dir) / pred.document.get("image", "")
            if truth is not None and truth.mask is not None and image.is_file():
                cases.append((image, truth.mask))
        if cases:
            table = patch_error_table(cases, pipeline, spacing_mm, seed=seed)
            summary["patch_counts"] = table.pop("counts")
            summary["patch_error_table"] = table
    return summary, curves

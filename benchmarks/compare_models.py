"""Every model of the app on the evaluation sets of evaluate_default.py, side by side (issue 19; a
benchmark, not a test).

    .venv/bin/python benchmarks/compare_models.py [--sets synthetic ffdm-like ...] [--mias-normals 104]

The two-stage pipeline's figures are read from benchmarks/evaluation.json (evaluate_default.py makes
them); each other model runs here on the same images (evaluate_default.py's data folders under
runs/evaluation, made when missing) and is scored by the same code (mcseg.evaluation.report), so
the hit rules are the same. The other models:

* luna_lozoya: Luna-Lozoya et al.'s shallow CNN (cluster presence in 1 cm^2 windows), which finds
  clusters, not calcifications: its rows have cluster figures only, plus its patch accuracy on the
  held-out patches of its training folder beside the paper's.
* marita_unet: Marita et al.'s U-Net on non-overlapping 9 mm tiles, which outlines calcifications:
  every figure the pipeline has, plus the paper's own Dice on the tiles that hold a ground-truth
  pixel (beside the Dice over whole images) and its TPR at its FPPI (the operating point); and the
  mass U-Net on the mini-MIAS masses of patients 81-161 (set mini-mias-masses).
* cortina_svm: Cortina et al.'s pipeline 1 (grayscale-morphology candidates, hand-crafted features,
  a cascade of two RBF-SVMs), which lists calcifications: every figure the pipeline has.
* cortina_resnet: Cortina et al.'s pipeline 2 (a ResNet classifier of 16 x 16 px patches in a
  stride-8 sliding window, detections at the smoothed saliency map's peaks): every figure.
* cortina_detector: Cortina et al.'s pipeline 3 (a CNN object detector, MONAI's RetinaNet with one
  14 px anchor, on 224 px windows of stride 200, NMS over the fused detections): every figure; its
  mask is the boxes of its detections, so its Dice says little.

Writes benchmarks/compare_models.json (``--store``), runs/compare/<model>/<set>/ (``--out``) and
runs/compare/froc.png (copied beside the store: benchmarks/compare_models.png, the README's picture).
``--models`` runs some models only and keeps the others' stored figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import evaluate_default as ev  # noqa: E402  (the sets and their data live there)

from mcseg.baselines.cluster_presence import ClusterPresence  # noqa: E402
from mcseg.baselines.cortina.cascade import SVMCascade  # noqa: E402
from mcseg.baselines.cortina.model import CortinaPipeline1  # noqa: E402
from mcseg.baselines.cortina.detection import CortinaDetectorModel  # noqa: E402
from mcseg.baselines.cortina.resnet import CortinaResNetModel  # noqa: E402
from mcseg.baselines.unet_segmentation import DEFAULT_MASS_WEIGHTS, UNetSegmentation  # noqa: E402
from mcseg.defaults import MASS_ROI_PX, UNET_ROI_PX, WORKING_SPACING_MM  # noqa: E402
from mcseg.evaluation.froc import froc, match_points  # noqa: E402
from mcseg.evaluation.overlap import Overlap  # noqa: E402
from mcseg.evaluation.report import evaluate_folder  # noqa: E402
from mcseg.evaluation.truth import find_truth, read_mias_masses  # noqa: E402
from mcseg.io import read_mammogram  # noqa: E402
from mcseg.io.labels import read_label  # noqa: E402
from mcseg.io.writer import write_label  # noqa: E402
from mcseg.training import find_cases  # noqa: E402

#: The paper's own figure (Luna-Lozoya et al., Table 3: INbreast patches chosen by a radiologist).
PAPER = {"luna_lozoya": "99.3% patch accuracy (INbreast patches; 8,301 parameters)",
         "marita_unet": "masses in CBIS-DDSM film: Dice 0.29 over the whole images, 0.70 on regions with a "
                        "finding; TPR 0.77 at 3.65 FPPI (91 M parameters)"}
PAPER["marita_unet_masses"] = PAPER["marita_unet"]
PAPER["cortina_svm"] = "AUFROC 0-50 0.757 +- 0.018 (INbreast test half, calcifications under 1 mm)"
PAPER["cortina_resnet"] = "AUFROC 0-50 0.679 +- 0.019 (INbreast test half, calcifications under 1 mm)"
PAPER["cortina_detector"] = ("AUFROC 0-50 0.809 +- 0.014 (INbreast test half, calcifications under 1 mm; "
                              "Faster R-CNN, DenseNet-121 backbone)")
MODELS = ("luna_lozoya", "marita_unet", "cortina_svm", "cortina_resnet", "cortina_detector")
#: The mass set: the mini-MIAS images with mass rows of patients 81-161 (patients 1-80 trained the
#: mass U-Net) and the held-out normals of the mini-mias set; a mass is found when a predicted
#: region's centroid lies inside its circle.
MASS_SET = "mini-mias-masses"


def images_of(name: str, mias_normals: int) -> tuple[list[Path], Path | None, Path | None, bool, float | None]:
    """(images, truth folder, mini-MIAS Info.txt, negatives-only, pixel size) of a set."""
    if name in ev.GENERATED:  # the same folders (and seeds) as evaluate_default.py
        work = ev.ensure_data(name, ROOT / "runs" / "evaluation" / name / "data")
        if name in ev.BACKGROUND_FINDINGS:  # the backgrounds' own calcifications are not scored, as there
            ev.mark_background_findings(work, name)
        return [c.image_path for c in find_cases(work)], work, None, False, None
    if name == "mini-mias":
        calc, normal = ev.mias_references()
        return ([ev.MIAS / "png" / f"{r}.png" for r in calc + normal[:mias_normals]], None, ev.MIAS / "Info.txt",
                False, 0.2)
    if name == "cbis-negatives":
        truth = ev.cbis_truth(ROOT / "runs" / "evaluation" / name / "truth")
        return sorted(ev.CBIS.rglob("*.dcm")), truth, None, True, None
    raise SystemExit(f"unknown set {name}")


def run_cluster_cnn(model: ClusterPresence, images: list[Path], out: Path, spacing: float | None, desc: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in tqdm(images, desc=desc, unit="image"):
        result = model.run(read_mammogram(path, spacing_mm=spacing))
        stem = path.name[: -len(".dcm")] if path.name.endswith(".dcm") else path.stem
        (out / f"{stem}.json").write_text(json.dumps(result.to_json()))


def run_outlining(model, images: list[Path], out: Path, spacing: float | None, desc: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in tqdm(images, desc=desc, unit="image"):
        mammo = read_mammogram(path, spacing_mm=spacing)
        result = model.run(mammo)
        stem = path.name[: -len(".dcm")] if path.name.endswith(".dcm") else path.stem
        (out / f"{stem}.json").write_text(json.dumps(result.to_json()))
        write_label(result.label_map(), mammo, out / f"{stem}.mask.nrrd", {1: "calcification"})


def dice_on_positive_tiles(pred: Path, truth: Path) -> dict[str, float] | None:
    """Marita et al.'s Dice on regions with a finding: pooled over the 9 mm tiles (the U-Net's own
    tile, in each image's pixels) that hold a ground-truth pixel."""
    pooled, images = Overlap(), 0
    for doc_path in sorted(pred.glob("*.json")):
        doc = json.loads(doc_path.read_text())
        gt = find_truth(truth, doc_path.stem)
        mask_path = doc_path.with_name(doc_path.stem + ".mask.nrrd")
        if gt is None or gt.mask is None or not mask_path.is_file() or not gt.mask.any():
            continue
        tile_px = max(1, round(UNET_ROI_PX * WORKING_SPACING_MM / float(np.mean(doc["spacing_mm"]))))
        pooled = pooled + Overlap.on_positive_tiles(read_label(mask_path), gt.mask, tile_px)
        images += 1
    return {"dice": round(pooled.dice, 4), "images": images} if images else None


def evaluate_masses(model: UNetSegmentation, out: Path, mias_normals: int,
                    reuse: bool = False) -> tuple[dict, object]:
    """Marita et al.'s own task on the project's mass set: TPR against FPPI (a mass is found when a
    predicted region's centroid lies inside its circle) and Dice, overall and on tiles with a mass."""
    masses = read_mias_masses(ev.MIAS / "Info.txt")
    refs = sorted(r for r in masses if int(r[3:]) >= ev.MIAS_FIRST_HELD_OUT)
    _, normals = ev.mias_references()
    images = [ev.MIAS / "png" / f"{r}.png" for r in refs + normals[:mias_normals]]
    if not (reuse and _complete(out, images)):
        shutil.rmtree(out, ignore_errors=True)
        run_outlining(model, images, out, 0.2, f"marita_unet_masses {MASS_SET}")
    matches, whole, positive = [], Overlap(), Overlap()
    hits_op = false_op = 0
    seconds = []
    for path in images:
        doc = json.loads((out / f"{path.stem}.json").read_text())
        found = doc["masses"]
        pred_mask = read_label(out / f"{path.stem}.mask.nrrd")
        regions = np.zeros(pred_mask.shape, np.int32)
        rows, cols = np.ogrid[:regions.shape[0], :regions.shape[1]]
        circles = masses.get(path.stem, [])
        for k, (r, c, radius) in enumerate(circles, 1):
            regions[((rows - r) ** 2 + (cols - c) ** 2 <= radius ** 2) & (regions == 0)] = k
        m = match_points([d["centroid_px"] for d in found], [d["score"] for d in found],
                         np.array([(r, c) for r, c, _ in circles]).reshape(-1, 2), regions, tuple(doc["spacing_mm"]),
                         hit_radius_mm=0.0, dilation_mm=0.0)
        matches.append(m)
        strong = np.array([d["in_mask"] for d in found], bool)
        hits_op += int((m.hits & strong).sum())
        false_op += int((~m.hits & strong).sum())
        whole = whole + Overlap.of(pred_mask, regions > 0)
        if circles:
            positive = positive + Overlap.on_positive_tiles(pred_mask, regions > 0, MASS_ROI_PX)
        seconds.append(doc["seconds"])
    curve = froc(matches)
    summary = {"images": len(images), "negative_images": len(images) - len(refs), "truth_masses": curve.n_truth,
               "sensitivity_at_fppi": {f"{f:g}": round(curve.sensitivity_at(f), 3) for f in (0.5, 1, 2, 4)},
               "operating_point": {"sensitivity": round(hits_op / max(curve.n_truth, 1), 3),
                                   "fppi": round(false_op / len(images), 3)},
               "dice_set": round(whole.dice, 4), "dice_on_positive_tiles": round(positive.dice, 4),
               "seconds_per_image": {"mean": round(float(np.mean(seconds)), 2), "max": round(float(np.max(seconds)), 2)}}
    return summary, curve


def _complete(pred: Path, images: list[Path]) -> bool:
    """Whether ``pred`` holds a result for every image (then --reuse-predictions scores it as it is)."""
    stems = [p.name[: -len(".dcm")] if p.name.endswith(".dcm") else p.stem for p in images]
    return pred.is_dir() and all((pred / f"{s}.json").is_file() for s in stems)


def parameters(path: str | Path) -> int:
    """Trainable parameters of a checkpoint (normalisation statistics are not parameters); of an SVM
    cascade, the numbers it stores (support vectors, their coefficients, standardisation)."""
    if str(path).endswith(".npz"):
        with np.load(path, allow_pickle=False) as f:
            return int(sum(f[k].size for k in f.files if k.startswith("stage")))

    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return int(sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var",
                                                                              "num_batches_tracked"))))


def table(results: dict, params: dict[str, int]) -> str:
    lines = ["| set | model | parameters | images | calcifications: sensitivity at 0.25 / 0.5 / 1 / 2 / 4 FP/image "
             "| AUFROC 0-50 | clusters: sensitivity at 0.1 / 0.2 / 0.5 / 1 FP/image | false clusters per image, "
             "all candidates | Dice | s/image |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, models in results.items():
        if name == MASS_SET:  # its own line below: masses, not calcifications
            continue
        for model, s in models.items():
            calc, cl = s.get("calcification", {}), s.get("cluster", {})
            csens = " / ".join(f"{v:.3f}" for v in calc.get("sensitivity_at_fppi", {}).values()) or "n/a"
            sens = " / ".join(f"{v:.3f}" for v in cl.get("sensitivity_at_fppi", {}).values()) or "n/a (no cluster)"
            auc = f"{calc['aufroc_0_50']:.3f}" if "aufroc_0_50" in calc else "n/a"
            dice = s.get("overlap", {}).get("dice_set", "n/a") if s.get("negative_images") != s.get("images") \
                and name != "cbis-negatives" else "n/a"  # no calcification to overlap on negatives
            lines.append(f"| {name} | {model} | {params.get(model, 'n/a'):,} | {s.get('images')} | {csens} | {auc} | "
                         f"{sens} | {cl.get('fppi_all_predicted', 'n/a')} | {dice} | "
                         f"{s.get('seconds_per_image', {}).get('mean', 'n/a')} |")
    lines += ["", "Marita et al.'s own figures (U-Net): Dice over the whole images and over the 9 mm tiles that "
              "hold a ground-truth pixel; TPR at the FPPI of its operating point (binarised at 0.5).", "",
              "| set | Dice, whole images | Dice, tiles with a calcification | TPR at FPPI (operating point) |",
              "|---|---|---|---|"]
    for name, models in results.items():
        s = models.get("marita_unet")
        if not s:
            continue
        op = s.get("calcification", {}).get("operating_point")
        pos = s.get("dice_on_positive_tiles") or {}
        lines.append(f"| {name} | {s.get('overlap', {}).get('dice_set', 'n/a')} | {pos.get('dice', 'n/a')} | "
                     + (f"{op['sensitivity']} at {op['fppi']} |" if op else
                        f"n/a ({s.get('calcification', {}).get('fppi_at_operating_point', 'n/a')} FPPI) |"))
    mass = results.get(MASS_SET, {}).get("marita_unet_masses")
    if mass:
        op = mass["operating_point"]
        lines += ["", f"Masses ({MASS_SET}: {mass['images'] - mass['negative_images']} mass images with "
                  f"{mass['truth_masses']} masses, {mass['negative_images']} normals): TPR "
                  + " / ".join(f"{v:.3f}" for v in mass["sensitivity_at_fppi"].values())
                  + f" at {' / '.join(mass['sensitivity_at_fppi'])} FPPI; {op['sensitivity']} at {op['fppi']} FPPI at "
                  f"the operating point; Dice {mass['dice_set']} over the whole images, {mass['dice_on_positive_tiles']} "
                  f"on the tiles with a mass; {mass['seconds_per_image']['mean']} s per image."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["synthetic", "real-background", "ffdm-like", "vendor-0.07mm",
                                                      "mini-mias", "cbis-negatives"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--masses", action=argparse.BooleanOptionalAction, default=True,
                        help=f"also run the mass U-Net on the {MASS_SET} set (default on)")
    parser.add_argument("--mias-normals", type=int, default=104)
    parser.add_argument("--cluster-cnn", type=Path, help="cluster_cnn.pt (default: the bundled weights)")
    parser.add_argument("--unet", type=Path, help="unet.pt (default: the bundled weights)")
    parser.add_argument("--unet-masses", type=Path, help="unet_masses.pt (default: the bundled weights)")
    parser.add_argument("--cortina", type=Path, help="cortina_svm_cascade.npz (default: the bundled one)")
    parser.add_argument("--cortina-resnet", type=Path, help="cortina_resnet.pt (default: the bundled one)")
    parser.add_argument("--cortina-detector", type=Path, help="cortina_detector.pt (default: the bundled one)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--reuse-predictions", action="store_true",
                        help="score a model's predictions under --out again where every image has one, instead "
                             "of running it (after a change to the scoring or the plot); their seconds are those "
                             "of the run that made them (run.json beside them)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "compare")
    parser.add_argument("--store", type=Path, default=ROOT / "benchmarks" / "compare_models.json",
                        help="the figures' JSON (default benchmarks/compare_models.json); another file for weights "
                             "that are not the bundled ones")
    args = parser.parse_args()
    pipeline_figures = json.loads((ROOT / "benchmarks" / "evaluation.json").read_text())
    loaders = {"luna_lozoya": lambda: ClusterPresence.from_weights(args.cluster_cnn),
               "marita_unet": lambda: UNetSegmentation.from_weights(args.unet),
               "cortina_svm": lambda: CortinaPipeline1.from_weights(args.cortina),
               "cortina_resnet": lambda: CortinaResNetModel.from_weights(args.cortina_resnet),
               "cortina_detector": lambda: CortinaDetectorModel.from_weights(args.cortina_detector)}
    models = {m: loaders[m]() for m in args.models}
    weights_of = {m: (model.weights["path"] if isinstance(model.weights, dict) else model.weights)
                  for m, model in models.items()}
    runners = {"luna_lozoya": run_cluster_cnn, "marita_unet": run_outlining, "cortina_svm": run_outlining,
               "cortina_resnet": run_outlining, "cortina_detector": run_outlining}
    store = args.store
    previous = json.loads(store.read_text()) if store.is_file() else {}
    results = previous.get("sets", {})
    # The stored runs' own times, read before this run replaces the sets' entries (results aliases them).
    stored_seconds = {name: {m: v.get("wall_seconds") for m, v in models_of.items()}
                      for name, models_of in results.items()}
    curves_by_set: dict[str, dict] = {}
    for name in args.sets:
        images, truth, mias_info, negatives, spacing = images_of(name, args.mias_normals)
        keep = {k: v for k, v in pipeline_figures.get(name, {}).items() if k in ("images", "calcification", "cluster",
                                                                                  "overlap", "seconds_per_image")}
        stored = {m: v for m, v in results.get(name, {}).items() if m in MODELS and m not in args.models}
        results[name] = {"pipeline (Valvano)": keep} | stored
        for model_name in args.models:
            pred = args.out / model_name / name / "pred"
            started = time.perf_counter()
            reused = args.reuse_predictions and _complete(pred, images)
            if not reused:
                shutil.rmtree(pred, ignore_errors=True)
                runners[model_name](models[model_name], images, pred, spacing, f"{model_name} {name}")
            summary, curves = evaluate_folder(pred, truth, mias_info, negatives, None, None, spacing, args.bootstrap)
            drop = ("per_image", "calcification") if model_name == "luna_lozoya" else ("per_image",)
            summary = {k: v for k, v in summary.items() if k not in drop}
            if model_name == "marita_unet" and truth is not None:
                summary["dice_on_positive_tiles"] = dice_on_positive_tiles(pred, truth)
            run_info = pred.parent / "run.json"  # the time of the run that made these predictions, beside them
            if reused:  # that run's time, not this scoring's (older folders: the store's entry)
                summary["wall_seconds"] = (json.loads(run_info.read_text())["wall_seconds"] if run_info.is_file()
                                           else stored_seconds.get(name, {}).get(model_name))
            else:
                summary["wall_seconds"] = round(time.perf_counter() - started, 1)
                run_info.write_text(json.dumps({"wall_seconds": summary["wall_seconds"],
                                                "weights": str(weights_of[model_name])}) + "\n")
            summary["curves"] = stored_curves(curves)
            results[name][model_name] = summary
            curves_by_set.setdefault(name, {})[model_name] = curves
        print(json.dumps(results[name], indent=1))
    if args.masses:
        mass_model = UNetSegmentation.from_weights(args.unet_masses or DEFAULT_MASS_WEIGHTS)
        weights_of["marita_unet_masses"] = mass_model.weights["path"]
        summary, curve = evaluate_masses(mass_model, args.out / "marita_unet_masses" / MASS_SET / "pred",
                                         args.mias_normals, args.reuse_predictions)
        summary["curves"] = stored_curves({"mass": curve})
        results[MASS_SET] = {"marita_unet_masses": summary}
        curves_by_set.setdefault(MASS_SET, {})["marita_unet_masses"] = {"mass": curve}
        print(json.dumps(results[MASS_SET], indent=1))
    elif "marita_unet_masses" in json.dumps(results.get(MASS_SET, {})) and DEFAULT_MASS_WEIGHTS.is_file():
        weights_of["marita_unet_masses"] = str(args.unet_masses or DEFAULT_MASS_WEIGHTS)
    for m, info in previous.items():  # models not run this time keep their stored description
        if m in PAPER and m not in weights_of and isinstance(info, dict) and "weights" in info:
            weights_of[m] = str(ROOT / info["weights"])
    from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS

    params = {"pipeline (Valvano)": parameters(DEFAULT_DETECTOR_WEIGHTS) + parameters(DEFAULT_SEGMENTATOR_WEIGHTS)}
    params |= {m: parameters(w) for m, w in weights_of.items()}
    doc = {"sets": results, "parameters": params}
    for model_name, weights_path in weights_of.items():
        if str(weights_path).endswith(".npz"):
            meta = SVMCascade.load(weights_path).meta
            ckpt = {"validation": {k: meta.get(k) for k in ("stage1", "stage2", "candidate_recall")},
                    "trained_on": meta.get("trained_on")}
        else:
            ckpt = torch.load(weights_path, map_location="cpu", weights_only=True)
        weights = Path(weights_path).resolve()
        doc[model_name] = {"weights": str(weights.relative_to(ROOT)) if weights.is_relative_to(ROOT) else str(weights),
                           "held_out": ckpt.get("validation"), "best_epoch": ckpt.get("best_epoch"),
                           "trained_on": ckpt.get("trained_on"), "paper": PAPER[model_name]}
    store.write_text(json.dumps(doc, indent=1))
    text = table(results, params)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(text)
    picture = store.with_suffix(".png")  # the README's picture of these figures
    if _plot(_with_stored(curves_by_set, results), results, args.out / "froc.png"):
        shutil.copyfile(args.out / "froc.png", picture)
    print(text)


def stored_curves(curves: dict) -> dict:
    """The FROC curves of a model on a set, so that a later run of other models still draws them (the
    plot needs every model's curve, not only this run's): only the corners of each step curve (where
    the sensitivity rises, and both ends), which the plot's post-steps redraw exactly; at most one
    point per ground-truth finding. (Points evenly spaced along the curve, as before 2026-12-07, lost
    the steep start of a curve that a later partial run then drew coarsely.)"""
    out = {}
    for level, curve in curves.items():
        if curve is None or not curve.n_truth:
            continue
        fppi, sens = np.asarray(curve.fppi, float), np.maximum.accumulate(np.asarray(curve.sensitivity, float))
        rises = np.flatnonzero(np.diff(sens) > 0) + 1
        keep = np.unique(np.concatenate([[0], rises, [len(fppi) - 1]]))
        out[level] = {"fppi": [round(float(v), 4) for v in fppi[keep]],
                      "sensitivity": [round(float(v), 4) for v in sens[keep]], "n_truth": int(curve.n_truth)}
    return out


def _with_stored(curves_by_set: dict, results: dict) -> dict:
    """This run's curves, and the stored ones of the models it did not run."""
    from types import SimpleNamespace

    merged = {name: dict(models) for name, models in curves_by_set.items()}
    for name, models in results.items():
        for model, summary in models.items():
            if model in merged.get(name, {}) or not isinstance(summary, dict) or not summary.get("curves"):
                continue
            merged.setdefault(name, {})[model] = {level: SimpleNamespace(**c) for level, c in summary["curves"].items()}
    return merged


def _plot(curves_by_set: dict, results: dict, path: Path) -> bool:
    """Per set, a cluster FROC (the cluster CNN's and the U-Net's curves) and, where calcifications
    are annotated, a calcification FROC (the U-Net's curve); the pipeline's figures as points (its
    curves are not stored by evaluate_default.py)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for name, by_model in curves_by_set.items():
        for level in ("calcification", "cluster", "mass"):
            curves = {m: c[level] for m, c in by_model.items() if c.get(level) is not None and c[level].n_truth
                      and not (m == "luna_lozoya" and level == "calcification")}  # it lists no calcification
            if curves:
                panels.append((name, level, curves))
    if not panels:
        return False
    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.3 * nrows), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    # One colour per model in every panel, so that a curve can be followed from panel to panel.
    palette = plt.get_cmap("tab10").colors
    colour = {m: palette[i] for i, m in enumerate(("pipeline (Valvano)",) + MODELS + ("marita_unet_masses",))}
    for ax, (name, level, curves) in zip(axes.ravel(), panels):
        for model, curve in curves.items():
            ax.step(np.asarray(curve.fppi), np.maximum.accumulate(np.asarray(curve.sensitivity)), where="post",
                    label=model, color=colour.get(model))
        points = results.get(name, {}).get("pipeline (Valvano)", {}).get(level, {}).get("sensitivity_at_fppi")
        if points:
            ax.plot([float(k) for k in points], list(points.values()), "o--", label="pipeline (Valvano)",
                    color=colour["pipeline (Valvano)"])
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlim(0, 50 if level == "calcification" else 10)
        ax.set_ylim(0, 1)
        plural = {"mass": "masses"}.get(level, level + "s")
        ax.set_title(f"{name}: {plural}", fontsize=10)
        ax.set_xlabel(f"false {plural} per image")
        ax.set_ylabel("sensitivity")
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


if __name__ == "__main__":
    main()

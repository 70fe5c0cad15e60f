"""Every model of the app on the evaluation sets of evaluate_default.py, side by side (issue 19; a
benchmark, not a test).

    .venv/bin/python benchmarks/compare_models.py [--sets synthetic ffdm-like ...] [--mias-normals 104]

The two-stage pipeline's figures are read from benchmarks/evaluation.json (evaluate_default.py makes
them); each other model runs here on the same images (evaluate_default.py's data folders under
runs/evaluation, made when missing) and is scored by the same code (mcseg.evaluation.report), so
the hit rules are the same. Today the other model is Luna-Lozoya et al.'s shallow CNN (cluster
presence in 1 cm^2 windows), which finds clusters, not calcifications: its rows have cluster figures
only, plus its patch accuracy on the held-out patches of its training folder beside the paper's.

Writes benchmarks/compare_models.json, runs/compare/<model>/<set>/ and runs/compare/cluster_froc.png
(copied to benchmarks/compare_models.png, the README's picture).
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
from mcseg.evaluation.report import evaluate_folder  # noqa: E402
from mcseg.io import read_mammogram  # noqa: E402
from mcseg.training import find_cases  # noqa: E402

#: The paper's own figure (Luna-Lozoya et al., Table 3: INbreast patches chosen by a radiologist).
PAPER = {"luna_lozoya": "99.3% patch accuracy (INbreast patches; 8,301 parameters)"}


def images_of(name: str, mias_normals: int) -> tuple[list[Path], Path | None, Path | None, bool, float | None]:
    """(images, truth folder, mini-MIAS Info.txt, negatives-only, pixel size) of a set."""
    if name in ev.GENERATED:  # the same folders (and seeds) as evaluate_default.py
        work = ev.ensure_data(name, ROOT / "runs" / "evaluation" / name / "data")
        return [c.image_path for c in find_cases(work)], work, None, False, None
    if name == "mini-mias":
        calc, normal = ev.mias_references()
        return ([ev.MIAS / "png" / f"{r}.png" for r in calc + normal[:mias_normals]], None, ev.MIAS / "Info.txt",
                False, 0.2)
    if name == "cbis-negatives":
        return sorted(ev.CBIS.rglob("*.dcm")), None, None, True, None
    raise SystemExit(f"unknown set {name}")


def run_cluster_cnn(model: ClusterPresence, images: list[Path], out: Path, spacing: float | None, desc: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in tqdm(images, desc=desc, unit="image"):
        result = model.run(read_mammogram(path, spacing_mm=spacing))
        stem = path.name[: -len(".dcm")] if path.name.endswith(".dcm") else path.stem
        (out / f"{stem}.json").write_text(json.dumps(result.to_json()))


def parameters(path: str | Path) -> int:
    """Trainable parameters of a checkpoint (normalisation statistics are not parameters)."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return int(sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var",
                                                                              "num_batches_tracked"))))


def table(results: dict, params: dict[str, int]) -> str:
    lines = ["| set | model | parameters | images | calcifications: sensitivity at 0.25 / 0.5 / 1 / 2 / 4 FP/image "
             "| AUFROC 0-50 | clusters: sensitivity at 0.1 / 0.2 / 0.5 / 1 FP/image | false clusters per image, "
             "all candidates | Dice | s/image |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, models in results.items():
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
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["synthetic", "real-background", "ffdm-like", "mini-mias",
                                                      "cbis-negatives"])
    parser.add_argument("--mias-normals", type=int, default=104)
    parser.add_argument("--cluster-cnn", type=Path, help="cluster_cnn.pt (default: the bundled weights)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "compare")
    args = parser.parse_args()
    pipeline_figures = json.loads((ROOT / "benchmarks" / "evaluation.json").read_text())
    model = ClusterPresence.from_weights(args.cluster_cnn)
    store = ROOT / "benchmarks" / "compare_models.json"
    results = json.loads(store.read_text()).get("sets", {}) if store.is_file() else {}
    curves_by_model: dict[str, dict] = {}
    for name in args.sets:
        images, truth, mias_info, negatives, spacing = images_of(name, args.mias_normals)
        pred = args.out / "luna_lozoya" / name / "pred"
        shutil.rmtree(pred, ignore_errors=True)
        started = time.perf_counter()
        run_cluster_cnn(model, images, pred, spacing, f"luna_lozoya {name}")
        summary, curves = evaluate_folder(pred, truth, mias_info, negatives, None, None, spacing, args.bootstrap)
        summary = {k: v for k, v in summary.items() if k not in ("per_image", "calcification")}
        summary["wall_seconds"] = round(time.perf_counter() - started, 1)
        keep = {k: v for k, v in pipeline_figures.get(name, {}).items() if k in ("images", "calcification", "cluster", "overlap",
                                                                                  "seconds_per_image")}
        results[name] = {"pipeline (Valvano)": keep, "luna_lozoya": summary}
        curves_by_model.setdefault(name, {})["luna_lozoya"] = curves.get("cluster")
        print(json.dumps(results[name], indent=1))
    ckpt = torch.load(model.weights, map_location="cpu", weights_only=True)
    from mcseg.pipeline import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_SEGMENTATOR_WEIGHTS

    params = {"pipeline (Valvano)": parameters(DEFAULT_DETECTOR_WEIGHTS) + parameters(DEFAULT_SEGMENTATOR_WEIGHTS),
              "luna_lozoya": parameters(model.weights)}
    weights = Path(model.weights).resolve()
    doc = {"sets": results, "parameters": params, "luna_lozoya": {
        "weights": str(weights.relative_to(ROOT)) if weights.is_relative_to(ROOT) else str(weights),
        "held_out_patches": ckpt.get("validation"), "trained_on": ckpt.get("trained_on"),
        "paper": PAPER["luna_lozoya"]}}
    store.write_text(json.dumps(doc, indent=1))
    text = table(results, params)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(text)
    _plot(curves_by_model, results, args.out / "cluster_froc.png")
    if (args.out / "cluster_froc.png").is_file():  # the README's picture
        shutil.copyfile(args.out / "cluster_froc.png", ROOT / "benchmarks" / "compare_models.png")
    print(text)


def _plot(curves_by_set: dict, results: dict, path: Path) -> None:
    """A cluster FROC per set: the cluster CNN's curve; the pipeline's figures at 0.1-1 FP/image (its
    curve is not stored by evaluate_default.py) as points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [s for s, c in curves_by_set.items() if c.get("luna_lozoya") is not None
            and c["luna_lozoya"].n_truth]
    if not sets:
        return
    fig, axes = plt.subplots(1, len(sets), figsize=(4 * len(sets), 3.5), squeeze=False)
    for ax, name in zip(axes[0], sets):
        for model, curve in curves_by_set[name].items():
            ax.step(np.asarray(curve.fppi), np.asarray(curve.sensitivity), where="post", label=model)
        points = results.get(name, {}).get("pipeline (Valvano)", {}).get("cluster", {}).get("sensitivity_at_fppi")
        if points:
            ax.plot([float(k) for k in points], list(points.values()), "o--", label="pipeline (Valvano)")
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name}: clusters")
        ax.set_xlabel("false clusters per image")
        ax.set_ylabel("cluster sensitivity")
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

"""Selective symmetry averaging against the full 8-view average (a benchmark, not a test).

    .venv/bin/python benchmarks/selective_tta.py [--refine-above 0.05] [--eval runs/evaluation]

On the images of the evaluation sets that `benchmarks/evaluate_default.py` generated or reads
(synthetic, real-background, ffdm-like, the first 20 mini-MIAS images of its list), each image is
segmented with every pixel of the flagged region averaged over the 8 views and with the 7 further
views only where the first view reached --refine-above. Reported: the agreement of the masks (pixels
in either mask that are in both), of the calcifications in the mask (same count, and matched
within 0.5 mm), and the segmentator stage's time. Writes benchmarks/selective_tta.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evaluate_default import MIAS, mias_references  # the same image lists as the evaluation (same folder)
from mcseg.defaults import PipelineConfig
from mcseg.io import read_mammogram
from mcseg.pipeline import Pipeline
from mcseg.training import find_cases

ROOT = Path(__file__).resolve().parent.parent


def _images(eval_dir: Path) -> dict[str, list[tuple[Path, float | None]]]:
    sets = {}
    for name in ("synthetic", "real-background", "ffdm-like"):
        data = eval_dir / name / "data"
        if data.is_dir():
            sets[name] = [(c.image_path, None) for c in find_cases(data)]
    calc, normal = mias_references()
    sets["mini-mias"] = [(MIAS / "png" / f"{ref}.png", 0.2) for ref in (calc + normal)[:20]]
    return sets


def _matched(a: list[dict], b: list[dict], spacing_mm, radius_mm: float = 0.5) -> int:
    if not a or not b:
        return 0
    pa, pb = (np.array([c["centroid_px"] for c in x]) * np.array(spacing_mm) for x in (a, b))
    d = np.hypot(*(pa[:, None, :] - pb[None, :, :]).transpose(2, 0, 1))
    return int((d.min(axis=1) <= radius_mm).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refine-above", type=float, default=0.05)
    parser.add_argument("--eval", type=Path, default=ROOT / "runs" / "evaluation")
    args = parser.parse_args()
    full = Pipeline.from_weights()
    part = Pipeline.from_weights(config=PipelineConfig(symmetry_refine_above=args.refine_above))
    report: dict = {"refine_above": args.refine_above, "sets": {}}
    for name, images in _images(args.eval).items():
        rows = []
        for path, spacing in tqdm(images, desc=name, unit="image"):
            mammo = read_mammogram(path, spacing_mm=spacing)
            a = full.run(mammo)
            t = time.perf_counter()
            b = part.run(mammo)
            both, either = int((a.mask & b.mask).sum()), int((a.mask | b.mask).sum())
            ca = [c for c in a.calcifications if c["in_mask"]]
            cb = [c for c in b.calcifications if c["in_mask"]]
            rows.append({"image": path.name, "mask_pixels_agree": both / either if either else 1.0,
                         "calcifications_full": len(ca), "calcifications_selective": len(cb),
                         "matched": _matched(ca, cb, mammo.spacing_mm),
                         "segmentator_s_full": a.timings_s["segmentator"],
                         "segmentator_s_selective": b.timings_s["segmentator"],
                         "total_s_full": a.seconds, "total_s_selective": time.perf_counter() - t})
        n_full = sum(r["calcifications_full"] for r in rows)
        report["sets"][name] = {
            "images": len(rows),
            "mask_pixel_agreement_mean": round(float(np.mean([r["mask_pixels_agree"] for r in rows])), 5),
            "images_with_identical_calcification_count": sum(r["calcifications_full"] == r["calcifications_selective"]
                                                             for r in rows),
            "calcifications_full": n_full,
            "calcifications_selective": sum(r["calcifications_selective"] for r in rows),
            "full_matched_by_selective": sum(r["matched"] for r in rows),
            "segmentator_s_median_full": round(float(np.median([r["segmentator_s_full"] for r in rows])), 2),
            "segmentator_s_median_selective": round(float(np.median([r["segmentator_s_selective"] for r in rows])), 2),
            "total_s_median_full": round(float(np.median([r["total_s_full"] for r in rows])), 2),
            "total_s_max_full": round(float(np.max([r["total_s_full"] for r in rows])), 2),
            "total_s_median_selective": round(float(np.median([r["total_s_selective"] for r in rows])), 2),
            "total_s_max_selective": round(float(np.max([r["total_s_selective"] for r in rows])), 2),
            "per_image": rows}
        print(json.dumps({k: v for k, v in report["sets"][name].items() if k != "per_image"}))
    (ROOT / "benchmarks" / "selective_tta.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

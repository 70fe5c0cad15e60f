"""Review sheets of the vendor FFDM samples' own calcifications (a benchmark tool, not a test).

    .venv/bin/python benchmarks/background_findings.py [--out benchmarks/background_findings.png]

The ffdm-like evaluation set inserts synthetic calcifications into the GE and Siemens sample files,
which hold real calcifications of their own (the Siemens file is the field of a stereotactic biopsy
of a cluster). Scoring a detection of those as a false positive measures the wrong thing, so they are
ignore regions, listed in tests/data/ffdm-vendor/background_findings.json with how they were found.
This script proposes the candidates as that file describes (white top-hat peaks over the local noise,
and the bundled pipeline's detections scoring 0.3 or more) and draws every one as a 6 mm crop at the
file's own pixel, framed by the review's decision: green a finding (ignored), orange doubtful (scored),
none not a calcification (scored). Re-run it to check the review, or to review a new background.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib
import numpy as np
from scipy import ndimage as ndi
from skimage import feature, morphology

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mcseg.io import read_mammogram  # noqa: E402
from mcseg.pipeline import Pipeline  # noqa: E402
from mcseg.preprocess.breast import breast_mask  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "tests" / "data" / "ffdm-vendor"
#: Top-hat candidates at least this many times the local noise (the GE file's fine texture gives
#: 836 candidates at 5, too many to review; 55 at 8).
NOISE_MULTIPLE = {"OutOfBoundsOverlay.dcm": 5.0, "GH133.dcm": 8.0}
PIPELINE_MIN_SCORE = 0.3


def candidates(name: str, pipeline: Pipeline) -> tuple[np.ndarray, float, list[tuple[float, float, str]]]:
    """(image, pixel size, [(row, col, how found)]) of one vendor file."""
    mammo = read_mammogram(VENDOR / name)
    image, spacing = mammo.pixels.astype(np.float32), float(mammo.spacing_mm[0])
    breast = breast_mask(image, spacing)
    detail = image - ndi.gaussian_filter(image, 1.0 / spacing)
    noise = 1.4826 * float(np.median(np.abs(detail[breast] - np.median(detail[breast]))))
    tophat = ndi.gaussian_filter(morphology.white_tophat(image, morphology.disk(int(round(0.5 / spacing)))), 0.5)
    peaks = feature.peak_local_max(tophat, min_distance=int(round(0.3 / spacing)),
                                   threshold_abs=NOISE_MULTIPLE[name] * noise, labels=breast.astype(int))
    found = [(float(r), float(c), f"top-hat {tophat[r, c] / noise:.1f}x") for r, c in peaks]
    for calc in pipeline.run(mammo).calcifications:
        r, c = calc["centroid_px"]
        if calc["score"] >= PIPELINE_MIN_SCORE and all(np.hypot(r - a, c - b) * spacing > 0.5 for a, b, _ in found):
            found.append((float(r), float(c), f"pipeline {calc['score']:.2f}"))
    return image, spacing, found


def decision(row: float, col: float, spacing: float, entry: dict) -> str:
    for finding in entry["findings"]:
        if np.hypot(row - finding["centre_px"][0], col - finding["centre_px"][1]) * spacing <= finding["radius_mm"]:
            return "finding"
    if any(np.hypot(row - r, col - c) * spacing <= 0.3 for r, c in entry["doubtful"]):
        return "doubtful"
    return "not kept"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "background_findings.png")
    args = parser.parse_args()
    reviewed = json.loads((VENDOR / "background_findings.json").read_text())["files"]
    pipeline = Pipeline.from_weights()
    sheets = [(name, *candidates(name, pipeline)) for name in reviewed]
    cols = 12
    rows = sum(-(-len(found) // cols) for _, _, _, found in sheets)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.45))
    colours = {"finding": "limegreen", "doubtful": "orange", "not kept": "none"}
    counts = {}
    row0 = 0
    for name, image, spacing, found in sheets:
        half = int(round(3.0 / spacing))
        n_rows = -(-len(found) // cols)
        for k in range(n_rows * cols):
            ax = axes[row0 + k // cols, k % cols]
            ax.set_xticks([]), ax.set_yticks([])
            if k >= len(found):
                ax.axis("off")
                continue
            r, c, how = found[k]
            verdict = decision(r, c, spacing, reviewed[name])
            counts[(name, verdict)] = counts.get((name, verdict), 0) + 1
            crop = image[max(int(r) - half, 0): int(r) + half, max(int(c) - half, 0): int(c) + half]
            ax.imshow(crop, cmap="gray", vmin=np.percentile(crop, 2), vmax=crop.max())
            for spine in ax.spines.values():
                spine.set_edgecolor(colours[verdict])
                spine.set_linewidth(3 if verdict != "not kept" else 0)
            ax.set_title(f"{name[:4]} {k}: {how}", fontsize=5)
        row0 += n_rows
    fig.suptitle("Vendor samples' own calcifications: green = real calcification (not scored), "
                 "orange = doubtful (scored), no frame = not a calcification (scored)", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=60)
    print(json.dumps({f"{n} {v}": k for (n, v), k in sorted(counts.items())}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Review sheets of the real calcifications already in the evaluation's real backgrounds (a benchmark
tool, not a test).

    .venv/bin/python benchmarks/background_findings.py [--set vendor|cbis] [--out sheet.png]
    .venv/bin/python benchmarks/background_findings.py --set cbis --candidates   # list them, to review

Two evaluation sets insert synthetic calcifications into real images that hold real calcifications
of their own: ffdm-like (the GE and Siemens vendor samples; the Siemens file is the field of a
stereotactic biopsy of a cluster) and real-background (the four CBIS-DDSM films of patient P_00820,
a malignant mass case), and cbis-negatives counts false positives on those films. Scoring a detection
of a real calcification as a false positive measures the wrong thing, so they are ignore regions,
listed with how they were found in tests/data/ffdm-vendor/background_findings.json and
benchmarks/cbis_background_findings.json. This script proposes the candidates as those files
describe (white top-hat peaks over the local noise, and the bundled pipeline's detections scoring 0.3
or more) and draws every one as a 6 mm crop at the file's own pixel, framed by the review's decision:
green a finding (ignored), orange doubtful (scored), none not a calcification (scored). Re-run it to
check the review, or to review a new background.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
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

import evaluate_default as ed  # noqa: E402  (the review files and image folders the evaluation uses)

ROOT = Path(__file__).resolve().parent.parent
PIPELINE_MIN_SCORE = 0.3


@dataclass(frozen=True)
class ReviewSet:
    review: Path            # the reviewed findings (JSON)
    folder: Path            # where the images are (searched recursively)
    #: Top-hat candidates at least this many times the local noise, per file.
    noise_multiple: dict[str, float]
    spacing_mm: float | None = None   # for files without a pixel size (CBIS-DDSM: the documented 0.05 mm)


SETS = {
    # The GE file's fine texture gives 836 candidates at 5 times the noise, too many to review; 55 at 8.
    "vendor": ReviewSet(ed.BACKGROUND_FINDINGS["ffdm-like"], ed.VENDOR, {"OutOfBoundsOverlay.dcm": 5.0, "GH133.dcm": 8.0}),
    # 8 times the noise as for the GE file: 14-22 candidates per film, 124 on 1-282 (which has many).
    "cbis": ReviewSet(ed.BACKGROUND_FINDINGS["real-background"], ed.CBIS,
                      {f"1-28{k}.dcm": 8.0 for k in range(4)}, spacing_mm=0.05),
}


def candidates(review_set: ReviewSet, name: str, pipeline: Pipeline) -> tuple[np.ndarray, float, list[tuple[float, float, str]]]:
    """(image, pixel size, [(row, col, how found)]) of one file."""
    mammo = read_mammogram(next(review_set.folder.rglob(name)), spacing_mm=review_set.spacing_mm)
    image, spacing = mammo.pixels.astype(np.float32), float(mammo.spacing_mm[0])
    breast = breast_mask(image, spacing)
    detail = image - ndi.gaussian_filter(image, 1.0 / spacing)
    noise = 1.4826 * float(np.median(np.abs(detail[breast] - np.median(detail[breast]))))
    tophat = ndi.gaussian_filter(morphology.white_tophat(image, morphology.disk(int(round(0.5 / spacing)))), 0.5)
    peaks = feature.peak_local_max(tophat, min_distance=int(round(0.3 / spacing)),
                                   threshold_abs=review_set.noise_multiple[name] * noise, labels=breast.astype(int))
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
    parser.add_argument("--set", choices=sorted(SETS), default="vendor")
    parser.add_argument("--out", type=Path, help="the sheet (default: benchmarks/background_findings[_cbis].png)")
    parser.add_argument("--candidates", action="store_true",
                        help="print the candidates as JSON (to review a new background) instead of drawing")
    args = parser.parse_args()
    review_set = SETS[args.set]
    out = args.out or ROOT / "benchmarks" / ("background_findings.png" if args.set == "vendor"
                                             else f"background_findings_{args.set}.png")
    pipeline = Pipeline.from_weights()
    if args.candidates:
        listing = {name: [[round(r, 1), round(c, 1), how] for r, c, how in candidates(review_set, name, pipeline)[2]]
                   for name in review_set.noise_multiple}
        print(json.dumps(listing, indent=1))
        return
    reviewed = json.loads(review_set.review.read_text())["files"]
    sheets = [(name, *candidates(review_set, name, pipeline)) for name in reviewed]
    cols = 12
    rows = sum(-(-len(found) // cols) for _, _, _, found in sheets)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.45), squeeze=False)
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
    fig.suptitle("Real calcifications already in the backgrounds: green = real calcification (not scored), "
                 "orange = doubtful (scored), no frame = not a calcification (scored)", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=60)
    print(json.dumps({f"{n} {v}": k for (n, v), k in sorted(counts.items())}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

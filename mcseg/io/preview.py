"""``S.preview.png``: a result to look at without Slicer.

Left, the whole image brought down to a screen: calcifications in the mask outlined and ringed in
red (a 0.2 mm calcification is less than a screen pixel there, so the ring is what one sees),
the highest-scoring sub-threshold candidates as small yellow crosses, clusters boxed in cyan. Right, the densest cluster
(or, without a cluster, the highest-scoring calcification) at full resolution with the mask's
outline. matplotlib does the drawing; it is the plotting library the evaluation reports use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mcseg.io.atomic import atomic_path

#: Longest side of the overview, in screen pixels.
PREVIEW_MAX_SIDE_PX = 1200
#: Margin around the inset's cluster, and the inset's size when it shows a single calcification.
INSET_MARGIN_MM = 2.0
INSET_SINGLE_MM = 12.0
#: Sub-threshold candidates marked (the highest-scoring ones): on real tissue there are thousands.
PREVIEW_MAX_CANDIDATES = 100


def _display_range(pixels: np.ndarray) -> tuple[float, float]:
    # Percentiles of the non-background pixels: air and labels would otherwise set the window.
    values = pixels[::4, ::4].ravel()
    values = values[values > np.percentile(values, 20)]
    if values.size == 0:
        values = pixels.ravel()
    lo, hi = np.percentile(values, [0.5, 99.8])
    return float(lo), float(max(hi, lo + 1e-6))


def _inset_box(result_json: dict[str, Any], shape: tuple[int, int], spacing_mm: tuple[float, float]):
    """(r0, c0, r1, c1) of the inset and what it shows, or None when nothing was found."""
    clusters = result_json["clusters"]
    row_mm, col_mm = spacing_mm
    if clusters:
        densest = max(clusters, key=lambda c: (len(c["members"]), c.get("score", 0)))
        r0, c0, r1, c1 = densest["bbox_px"]
        margin_r, margin_c = INSET_MARGIN_MM / row_mm, INSET_MARGIN_MM / col_mm
        box = (r0 - margin_r, c0 - margin_c, r1 + margin_r, c1 + margin_c)
        title = f"cluster {densest['id']}: {len(densest['members'])} calcifications"
    else:
        found = [c for c in result_json["calcifications"] if c["in_mask"]]
        if not found:
            return None
        best = max(found, key=lambda c: c["score"])
        r, c = best["centroid_px"]
        half_r, half_c = INSET_SINGLE_MM / 2 / row_mm, INSET_SINGLE_MM / 2 / col_mm
        box = (r - half_r, c - half_c, r + half_r, c + half_c)
        title = f"calcification {best['id']} (score {best['score']:.2f})"
    r0, c0, r1, c1 = (int(round(v)) for v in box)
    r0, c0 = max(0, r0), max(0, c0)
    r1, c1 = min(shape[0], max(r1, r0 + 8)), min(shape[1], max(c1, c0 + 8))
    return (r0, c0, r1, c1), title


def write_preview(result, path: str | Path, max_side_px: int = PREVIEW_MAX_SIDE_PX) -> Path:
    """Write the preview PNG of a SegmentationResult; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from skimage.measure import block_reduce

    doc = result.to_json()
    pixels = np.asarray(result.mammogram.pixels, dtype=np.float32)
    mask = np.asarray(result.mask, dtype=bool)
    rows, cols = pixels.shape
    step = max(1, int(np.ceil(max(rows, cols) / max_side_px)))
    overview = block_reduce(pixels, (step, step), np.mean)
    # Max-pooled: a one-pixel calcification survives the reduction.
    overview_mask = block_reduce(mask, (step, step), np.max)
    lo, hi = _display_range(pixels)
    inset = _inset_box(doc, (rows, cols), tuple(doc["spacing_mm"]))

    height_in = 9.0
    overview_width = height_in * overview.shape[1] / overview.shape[0]
    fig, axes = plt.subplots(1, 2 if inset else 1, figsize=(overview_width + (height_in if inset else 0) + 0.4,
                                                            height_in + 0.8), squeeze=False,
                             gridspec_kw={"width_ratios": [overview_width, height_in] if inset else [1]})
    ax = axes[0, 0]
    ax.imshow(overview, cmap="gray", vmin=lo, vmax=hi, interpolation="lanczos")
    if overview_mask.any():
        ax.contour(overview_mask, levels=[0.5], colors="red", linewidths=0.6)
    found = [c for c in doc["calcifications"] if c["in_mask"]]
    candidates = [c for c in doc["calcifications"] if not c["in_mask"]]
    shown = sorted(candidates, key=lambda c: -c["score"])[:PREVIEW_MAX_CANDIDATES]
    if shown:
        centres = np.array([c["centroid_px"] for c in shown]) / step
        ax.scatter(centres[:, 1], centres[:, 0], s=14, marker="+", c="yellow", linewidths=0.6)
    if found:
        centres = np.array([c["centroid_px"] for c in found]) / step
        ax.scatter(centres[:, 1], centres[:, 0], s=60, facecolors="none", edgecolors="red", linewidths=0.8)
    for cluster in doc["clusters"]:
        r0, c0, r1, c1 = (v / step for v in cluster["bbox_px"])
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, edgecolor="cyan", linewidth=1.2))
        ax.text(c0, r0 - 4, f"cluster {cluster['id']}", color="cyan", fontsize=8, va="bottom")
    if inset:
        (r0, c0, r1, c1), _ = inset
        ax.add_patch(Rectangle((c0 / step - 0.5, r0 / step - 0.5), (c1 - c0) / step, (r1 - r0) / step, fill=False,
                               edgecolor="white", linestyle="--", linewidth=0.8))
    row_mm, col_mm = doc["spacing_mm"]
    ax.set_title(f"{Path(doc['image']).name}: {len(found)} calcifications (red), {len(doc['clusters'])} clusters "
                 f"(cyan)\nyellow: the {len(shown)} highest of {len(candidates)} candidates below threshold\n"
                 f"{rows} x {cols} px at "
                 f"{row_mm:.3g} x {col_mm:.3g} mm; in the mask from score "
                 f"{doc['settings'].get('mask_threshold', doc['settings'].get('operating_threshold', '?'))}",
                 fontsize=9)
    ax.set_axis_off()
    if inset:
        (r0, c0, r1, c1), title = inset
        ax2 = axes[0, 1]
        crop = pixels[r0:r1, c0:c1]
        ax2.imshow(crop, cmap="gray", vmin=float(np.percentile(crop, 1)), vmax=float(np.percentile(crop, 99.9)),
                   interpolation="nearest")
        if mask[r0:r1, c0:c1].any():
            ax2.contour(mask[r0:r1, c0:c1], levels=[0.5], colors="red", linewidths=0.8)
        ax2.set_title(f"{title}, full resolution ({(r1 - r0) * row_mm:.1f} x {(c1 - c0) * col_mm:.1f} mm)",
                      fontsize=9)
        ax2.set_axis_off()
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, keep_suffix=True) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path

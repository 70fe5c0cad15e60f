"""A picture of the fine outline (issue 15; README, "The outline at the input's pixel").

    .venv/bin/python benchmarks/outline_picture.py   # writes benchmarks/outline_example.png

The bundled demo image at 0.07 mm, served by the coarse weights: the same crop three times, with the
ground truth, the coarse weights' own outline drawn back onto the 0.07 mm grid, and the outline the
0.07 mm segmentator redraws around the same findings (the default), each with its Dice on the image.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

from mcseg.defaults import PipelineConfig  # noqa: E402
from mcseg.evaluation import pixel_dice  # noqa: E402
from mcseg.io import read_label, read_mammogram  # noqa: E402
from mcseg.pipeline import Pipeline  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mcseg" / "data" / "demo" / "demo_synthetic_0001"
CROP_PX = 160


def main() -> None:
    mammo = read_mammogram(DEMO.with_suffix(".dcm"))
    truth = read_label(DEMO.with_suffix(".gt.nrrd")).astype(bool)
    masks = {"coarse outline (0.14 mm, drawn back)": Pipeline.from_weights(config=PipelineConfig(fine_outline=False)),
             "fine outline (0.07 mm segmentator, default)": Pipeline.from_weights(config=PipelineConfig(fine_outline=True))}
    masks = {name: pipeline.run(mammo).mask.astype(bool) for name, pipeline in masks.items()}
    # The crop with the most ground-truth pixels.
    density = ndi.uniform_filter(truth.astype(float), CROP_PX)
    r, c = np.unravel_index(np.argmax(density), density.shape)
    r0 = int(np.clip(r - CROP_PX // 2, 0, truth.shape[0] - CROP_PX))
    c0 = int(np.clip(c - CROP_PX // 2, 0, truth.shape[1] - CROP_PX))
    window = np.s_[r0:r0 + CROP_PX, c0:c0 + CROP_PX]
    image = mammo.pixels[window]
    lo, hi = np.percentile(image, [1, 99.5])
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    panels = [("ground truth", truth, "lime")] + [(f"{name}\nDice on the image {pixel_dice(m, truth):.3f}", m, colour)
                                                 for (name, m), colour in zip(masks.items(), ("red", "cyan"))]
    for ax, (title, mask, colour) in zip(axes, panels):
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi)
        ax.contour(truth[window], levels=[0.5], colors="lime", linewidths=0.6)
        if mask is not truth:
            ax.contour(mask[window], levels=[0.5], colors=colour, linewidths=1.0)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.suptitle(f"{DEMO.name}.dcm (0.07 mm), rows {r0}-{r0 + CROP_PX}, columns {c0}-{c0 + CROP_PX}; "
                 "green: ground truth", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    out = ROOT / "benchmarks" / "outline_example.png"
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()

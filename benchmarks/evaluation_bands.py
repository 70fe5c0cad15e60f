"""The README's picture of where the default weights find calcifications: the share found at 1 false
positive per image by contrast-to-noise band on every evaluation set with calcification truth, beside the
held-out measurement of issue 15 (real FFDM backgrounds of a public database, measured outside the
project with earlier weights), and by pixel size on the ffdm-like set.

    .venv/bin/python benchmarks/evaluation_bands.py   # reads benchmarks/evaluation.json, writes evaluation_bands.png

Nothing is run: the figures are those evaluate_default.py stored (``missed_by``).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SETS = ("synthetic", "real-background", "ffdm-like", "vendor-0.07mm")
BANDS = ("CNR 0-3", "CNR 3-5", "CNR 5-8", "CNR 8-12", "CNR >= 12")
#: Issue 15's held-out figures (outside the project, with the weights of its day): sensitivity at 1 FP/image
#: by the calcification's peak over the local noise, < 3 / 3-5 / 5-8 / 8-12 / >= 12.
ISSUE_15_HELD_OUT = (0.00, 0.05, 0.28, 0.70, 0.89)


def main() -> None:
    figures = json.loads((ROOT / "benchmarks" / "evaluation.json").read_text())
    fig, (by_cnr, by_pixel) = plt.subplots(1, 2, figsize=(13, 5.6), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / (len(SETS) + 1)
    for k, name in enumerate(SETS):
        cnr = figures[name]["missed_by"]["cnr"]
        found = [cnr.get(b, {}).get("found", 0.0) for b in BANDS]
        bars = by_cnr.bar([i + k * width for i in range(len(BANDS))], found, width, label=name)
        for bar, b in zip(bars, BANDS):
            by_cnr.annotate(str(cnr.get(b, {}).get("n", 0)), (bar.get_x() + width / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=6)
    by_cnr.bar([i + len(SETS) * width for i in range(len(BANDS))], ISSUE_15_HELD_OUT, width, color="0.55",
               hatch="//", label="issue 15: held-out real FFDM (outside, earlier weights)")
    by_cnr.set_xticks([i + len(SETS) * width / 2 for i in range(len(BANDS))],
                      ["< 3", "3-5", "5-8", "8-12", ">= 12"])
    by_cnr.set_xlabel("calcification contrast-to-noise (peak over the local noise)")
    by_cnr.set_ylabel("share found at 1 false positive per image")
    by_cnr.set_ylim(0, 1.08)
    by_cnr.set_title("by contrast-to-noise (numbers: calcifications in the band)", fontsize=10)
    by_cnr.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    pixel = figures["ffdm-like"]["missed_by"]["pixel size"]
    sizes = sorted(pixel, key=lambda s: float(s.split()[0]))
    bars = by_pixel.bar(range(len(sizes)), [pixel[s]["found"] for s in sizes], 0.6, color="tab:green")
    for bar, s in zip(bars, sizes):
        by_pixel.annotate(str(pixel[s]["n"]), (bar.get_x() + 0.3, bar.get_height()), ha="center", va="bottom",
                          fontsize=7)
    # ffdm-like's 0.085 and 0.094 mm images are crops of the Siemens and GE detector files (their DetectorType
    # kept): the native networks alone; its 0.1 mm ones are phantoms, which name no detector: the native networks
    # with the band classifier.
    routes = {0.07: "native", 0.085: "native alone\n(detector)", 0.0941: "native alone\n(detector)",
              0.1: "native + band\nclassifier", 0.14: "coarse"}
    by_pixel.set_xticks(range(len(sizes)),
                        [f"{s}\n{routes.get(float(s.split()[0]), 'coarse +' + chr(10) + 'fine outline')}" for s in sizes], fontsize=7)
    by_pixel.axhline(0.85, color="k", ls="--", lw=0.8)
    by_pixel.annotate("issue 15's goal, 0.85", (-0.45, 0.955), ha="left", fontsize=7)
    by_pixel.set_ylim(0, 1.08)
    by_pixel.set_title("ffdm-like by the input's pixel size (the weights that serve it)", fontsize=10)
    fig.suptitle("Default weights, benchmarks/evaluation.json: synthetic calcifications; none of these is a real "
                 "annotated FFDM calcification", fontsize=9)
    fig.tight_layout()
    out = ROOT / "benchmarks" / "evaluation_bands.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

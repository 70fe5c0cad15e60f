"""The baselines retrained with the vendor crops beside the weights they replaced (issue 19; a table for the README).

    .venv/bin/python benchmarks/compare_retrained.py [--before ...] [--retrained ...]

Reads the figures of the baseline weights shipped before the retraining
(benchmarks/compare_models_before_vendor.json, a copy of compare_models.json as it was) and the retrained
ones' (scripts/train_baselines_vendor.sh, then compare_models.py --store benchmarks/compare_models_vendor.json),
and prints one markdown row per set and model that both have, with the pipeline's row of that set first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = "pipeline (Valvano)"


def figures(s: dict, negatives_only: bool) -> list[str]:
    """Sensitivity at 0.25 / 1 / 4 FP/image, AUFROC 0-50, clusters at 0.2 and 1, false clusters, Dice (none on a
    set of negatives: there is nothing to overlap)."""
    calc, cl = s.get("calcification", {}), s.get("cluster", {})
    at = calc.get("sensitivity_at_fppi", {})
    clusters = cl.get("sensitivity_at_fppi", {})
    dice = s.get("overlap", {}).get("dice_set")
    return [" / ".join(f"{at[k]:.3f}" for k in ("0.25", "1", "4")) if at else "n/a",
            f"{calc['aufroc_0_50']:.3f}" if "aufroc_0_50" in calc else "n/a",
            " / ".join(f"{clusters[k]:.3f}" for k in ("0.2", "1")) if clusters else "n/a",
            str(cl.get("fppi_all_predicted", "n/a")),
            f"{dice:.3f}" if isinstance(dice, (int, float)) and not negatives_only else "n/a"]


def table(before: dict, retrained: dict) -> str:
    lines = ["| set | model | weights | calcifications at 0.25 / 1 / 4 FP/image | AUFROC 0-50 | clusters at 0.2 / 1 "
             "FP/image | false clusters per image | Dice |", "|---|---|---|---|---|---|---|---|"]
    for name, models in retrained["sets"].items():
        negatives = name == "cbis-negatives"
        if PIPELINE in models:
            lines.append(f"| {name} | pipeline | shipped | " + " | ".join(figures(models[PIPELINE], negatives)) + " |")
        for model, s in models.items():
            old = before["sets"].get(name, {}).get(model)
            if model == PIPELINE or old is None:
                continue
            lines.append(f"| {name} | {model} | before (no real FFDM) | " + " | ".join(figures(old, negatives)) + " |")
            lines.append("| | | + vendor crops | " + " | ".join(figures(s, negatives)) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, default=ROOT / "benchmarks" / "compare_models_before_vendor.json")
    parser.add_argument("--retrained", type=Path, default=ROOT / "benchmarks" / "compare_models_vendor.json")
    args = parser.parse_args()
    print(table(json.loads(args.before.read_text()), json.loads(args.retrained.read_text())), end="")


if __name__ == "__main__":
    main()

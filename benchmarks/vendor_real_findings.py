"""The only real calcifications in real FFDM the project has: does the default pipeline mark them? (issue
15; a small check, not an estimate of sensitivity)

    .venv/bin/python benchmarks/vendor_real_findings.py   # under a minute; writes benchmarks/vendor_real_findings.json

The GE and Siemens vendor samples hold real calcifications of their own, reviewed by a project engineer
(not a radiologist) and listed as 13 finding circles (23 calcifications; the Siemens file is the field of
a stereotactic biopsy of a cluster) in tests/data/ffdm-vendor/background_findings.json, with 6 doubtful
spots. Each whole file is segmented with the defaults, at its own pixel (0.094 / 0.085 mm: both headers
name a digital detector, so the native networks alone serve them) and resampled to 0.07 mm (the native
networks with their classifier), and at its own pixel with --native-alone-inputs none (the coarse networks,
the default until the eleventh rule of choose_native_networks.py), and for every finding circle it says whether a
calcification in the mask (the operating point) or any listed candidate lies inside it; detections in the
mask outside every finding and doubtful circle are counted as well (false positives, or calcifications
the review missed).

Read it with its biases, which pull both ways: the review's candidates were proposed partly by an earlier
pipeline's own detections (scores of 0.3 or more), which favours what a pipeline finds; the native and
coarse classifiers were fitted on crops of these two breasts in which these calcifications were not
labelled (they were background to the fit), which works against them; and 13 circles in two breasts say
little about any other breast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mcseg.io import read_mammogram
from mcseg.defaults import PipelineConfig
from mcseg.pipeline import Pipeline

import evaluate_default as ed

ROOT = Path(__file__).resolve().parent.parent
FINE_MM = 0.07


def _inside(points: np.ndarray, centre: tuple[float, float], radius_px: float) -> np.ndarray:
    if not len(points):
        return np.zeros(0, bool)
    return np.hypot(points[:, 0] - centre[0], points[:, 1] - centre[1]) <= radius_px


def check(pipeline: Pipeline, path: Path, review: dict, scale: float) -> dict:
    """Segment ``path``; findings given at the file's own pixel, ``scale`` = own pixel / this image's."""
    result = pipeline.run(read_mammogram(path))
    spacing = float(result.mammogram.spacing_mm[0])
    moved = lambda c: ((c[0] + 0.5) * scale - 0.5, (c[1] + 0.5) * scale - 0.5)  # noqa: E731  pixel centres kept
    listed = np.array([c["centroid_px"] for c in result.calcifications]).reshape(-1, 2)
    in_mask = np.array([c["in_mask"] for c in result.calcifications], bool)
    findings, reviewed = [], np.zeros(len(listed), bool)
    for finding in review["findings"]:
        near = _inside(listed, moved(finding["centre_px"]), finding["radius_mm"] / spacing)
        reviewed |= near
        findings.append({"kind": finding["kind"], "in_mask": bool((near & in_mask).any()), "listed": bool(near.any())})
    for spot in review["doubtful"]:
        reviewed |= _inside(listed, moved(spot), 0.75 / spacing)
    return {"spacing_mm": round(spacing, 4), "served_by": str(Path(pipeline.for_input(result.mammogram)
                                                                   .weights["segmentator"]["path"]).parent.name),
            "findings": findings, "found_in_mask": sum(f["in_mask"] for f in findings),
            "found_listed": sum(f["listed"] for f in findings),
            "other_detections_in_mask": int((in_mask & ~reviewed).sum()),
            "breast_cm2": round(float(result.frame.breast_cm2), 1), "seconds": round(result.seconds, 2)}


#: Lower operating points a site may choose (--classifier-threshold), swept at the coarse route.
SWEEP = (0.5, 0.3, 0.2, 0.1)


def main() -> None:
    review = json.loads(ed.BACKGROUND_FINDINGS["ffdm-like"].read_text())["files"]
    pipeline = Pipeline.from_weights()
    coarse_route = Pipeline.from_weights(config=PipelineConfig(native_alone_inputs="none"))  # the default until v11
    resampled = ed.vendor_files_at(ROOT / "runs" / "vendor-real-findings" / "0.07mm", FINE_MM)
    out = {"what": __doc__.split("\n\n")[1].replace("\n", " "), "files": {}, "sweep": {}}
    for name, entry in review.items():
        own = entry["spacing_mm"]
        out["files"][name] = {"own pixel": check(pipeline, ed.VENDOR / name, entry, 1.0),
                              "0.07 mm": check(pipeline, resampled[name], entry, own / FINE_MM),
                              "own pixel, --native-alone-inputs none": check(coarse_route, ed.VENDOR / name, entry, 1.0)}
        for where, r in out["files"][name].items():
            print(f"{name} at {where} ({r['served_by']}): {r['found_in_mask']} of {len(r['findings'])} findings in "
                  f"the mask, {r['found_listed']} listed; {r['other_detections_in_mask']} other detections in the "
                  f"mask ({r['breast_cm2']} cm^2 of breast)")
    # The coarse route (each file at its own pixel) at lower classifier thresholds: what a site buys.
    for threshold in SWEEP:
        lowered = coarse_route.with_decisions(classifier_threshold=threshold)
        runs = [check(lowered, ed.VENDOR / name, entry, 1.0) for name, entry in review.items()]
        out["sweep"][f"{threshold:g}"] = {"findings_in_mask": sum(r["found_in_mask"] for r in runs),
                                          "findings": sum(len(r["findings"]) for r in runs),
                                          "other_detections_in_mask": sum(r["other_detections_in_mask"] for r in runs)}
        print(f"--classifier-threshold {threshold:g}: {json.dumps(out['sweep'][f'{threshold:g}'])}")
    (ROOT / "benchmarks" / "vendor_real_findings.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

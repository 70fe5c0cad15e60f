"""Speed and peak memory of the pipeline with the default weights (a benchmark, not a test).

    .venv/bin/python benchmarks/speed.py [--runs 3] [--out benchmarks/speed.json]

Cases, each in a fresh process so its peak resident memory is its own:
  * ffdm:  a synthetic 3328 x 4084 mammogram at 0.07 mm (FFDM size), fast (dense) path;
  * ge:    the real GE vendor FFDM (tests/data/ffdm-vendor/GH133.dcm) resampled to 3328 x 4084 at
           0.07 mm (real anatomy at that size) and to 2048 x 1668 at 0.14 mm (a downsampled copy, as
           anonymised images often come), the latter served by the coarse-pixel weights at 0.14 mm and,
           as "upsampled", by the 0.07 mm weights (--working-spacing-mm 0.07), to measure both;
  * film:  the bundled CBIS-DDSM DICOM (4688 x 2592, 0.05 mm assumed), fast path;
  * paths: the segmentator's fast (dense) path over the ffdm image's whole flagged
           region against the reference path (one patch per pixel) timed on a random
           sample of 20,000 of the same pixels: seconds per pixel, speed-up, agreement.
Every image case runs --runs times (default 3) in fresh processes; the median run is kept with every
run's total. Each process then runs the same image a second time ("warm": the ONNX Runtime sessions
built and the heap grown, as in a server or a batch worker after its first image). Every image case runs with the default settings and, with --refine-above P, again with the
selective symmetry averaging (--symmetry-refine-above P), with --time-budget-s S with that time
budget per image, and with --coarse-from-mm MM with the coarse weights' range starting at MM (0.08:
the routing before 0.06-0.08 mm inputs went to the coarse weights), and with --no-fine-outline-too
without the fine outline. On a machine with CUDA the image cases
also run on the GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CBIS = ROOT / "mcseg" / "data" / "demo" / "cbis-ddsm_P_00820_RIGHT_CC.dcm"
GE = ROOT / "tests" / "data" / "ffdm-vendor" / "GH133.dcm"


def _ge_dicom(folder: Path, shape: tuple[int, int], spacing_mm: float) -> Path:
    """The GE sample (after its VOI LUT, as the reader gives it) resampled to ``shape`` at ``spacing_mm``."""
    from skimage.transform import resize

    from mcseg.io import read_mammogram
    from mcseg.io.dicom_write import write_mammogram_dicom

    mammo = read_mammogram(GE)
    pixels = resize(mammo.pixels.astype(np.float32), shape, order=1, anti_aliasing=True, preserve_range=True)
    return write_mammogram_dicom(folder / f"ge_{shape[1]}x{shape[0]}.dcm", np.clip(pixels, 0, 4095).astype(np.uint16),
                                 spacing_mm=(spacing_mm, spacing_mm), laterality=mammo.laterality, bits_stored=12)


def _ffdm_dicom(folder: Path) -> Path:
    from mcseg.io.dicom_write import write_mammogram_dicom
    from mcseg.synth import SynthConfig, synthesize_case

    case = synthesize_case(np.random.default_rng(4084), SynthConfig(shape_px=(4084, 3328), spacing_mm=0.07))
    return write_mammogram_dicom(folder / "ffdm_3328x4084.dcm", case.image, spacing_mm=(0.07, 0.07))


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_segment(path: str, config: dict | None = None) -> dict:
    import torch

    from mcseg.defaults import PipelineConfig
    from mcseg.io import read_mammogram
    from mcseg.pipeline import Pipeline
    from mcseg.runtime import keep_freed_memory

    keep_freed_memory()  # as the CLI, the batch workers and the server do
    pipeline = Pipeline.from_weights(config=PipelineConfig(**(config or {})))
    t0 = time.perf_counter()
    mammo = read_mammogram(path)
    read_s = time.perf_counter() - t0
    result = pipeline.run(mammo)
    total = time.perf_counter() - t0
    # The same image again in the same process: what a server or a batch worker pays per image once
    # its sessions are built and its heap has grown (the first run pays both).
    warm = pipeline.run(mammo)
    return {"image": Path(path).name, "shape": list(mammo.shape), "spacing_mm": list(mammo.spacing_mm),
            "read_s": round(read_s, 2), "pipeline_s": round(result.seconds, 2), "total_s": round(total, 2),
            "stages_s": {k: round(v, 2) for k, v in result.timings_s.items()},
            "warm_pipeline_s": round(warm.seconds, 2),
            "warm_stages_s": {k: round(v, 2) for k, v in warm.timings_s.items()},
            "windows": int(len(result.detector.scores)), "flagged_windows": int(result.detector.flagged.sum()),
            "calcifications_in_mask": sum(c["in_mask"] for c in result.calcifications),
            "symmetry_views": result.symmetry_views, "peak_rss_mb": round(_peak_rss_mb(), 0), "torch_threads": torch.get_num_threads(),
            "device": str(pipeline.device) + (f" ({torch.cuda.get_device_name()})" if pipeline.device.type == "cuda"
                                               else ""), "config": config or {}}


def case_paths(path: str, sample_pixels: int = 20000) -> dict:
    """Dense path over the whole flagged region against the reference path's cost per
    pixel, measured on a random sample of the same region's pixels."""
    from mcseg.io import read_mammogram
    from mcseg.pipeline import Pipeline
    from mcseg.segmentator import segment_dense, segment_reference

    pipeline = Pipeline.from_weights()
    frame = pipeline.prepare(read_mammogram(path))
    det = pipeline.detect(frame)
    region = pipeline.candidate_region(frame, det)
    pixels = int(region.sum())
    t = time.perf_counter()
    fast = segment_dense(pipeline.segmentator, frame.image, region)
    fast_s = time.perf_counter() - t
    rows, cols = np.nonzero(region)
    pick = np.random.default_rng(0).choice(len(rows), size=min(sample_pixels, len(rows)), replace=False)
    sample = np.zeros_like(region)
    sample[rows[pick], cols[pick]] = True
    t = time.perf_counter()
    slow = segment_reference(pipeline.segmentator, frame.image, sample)
    slow_s = time.perf_counter() - t
    ref_per_px = slow_s / len(pick)
    th = pipeline.config.operating_threshold
    return {"flagged_windows": int(det.flagged.sum()), "region_pixels": pixels, "dense_s": round(fast_s, 3),
            "reference_sample_pixels": int(len(pick)), "reference_s_on_sample": round(slow_s, 3),
            "reference_s_extrapolated": round(ref_per_px * pixels, 1),
            "speedup": round(ref_per_px * pixels / fast_s, 1),
            "dense_us_per_pixel": round(fast_s / pixels * 1e6, 2),
            "reference_us_per_pixel": round(ref_per_px * 1e6, 1),
            "decision_agreement_on_sample": float(((fast >= th) == (slow >= th))[sample].mean()),
            "max_abs_probability_difference": float(np.abs(fast - slow)[sample].max())}


def _run_case(name: str, path: Path, config: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--case", name, str(path), json.dumps(config or {})],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "speed.json")
    parser.add_argument("--refine-above", type=float, help="also run every image with this --symmetry-refine-above")
    parser.add_argument("--time-budget-s", type=float, metavar="S",
                        help="also run every image with this time budget per image (--time-budget-s)")
    parser.add_argument("--coarse-from-mm", type=float, metavar="MM",
                        help="also run every image with the coarse weights' range starting at MM (--coarse-from-mm)")
    parser.add_argument("--no-fine-outline-too", action="store_true",
                        help="also run every image without the fine outline (--no-fine-outline)")
    parser.add_argument("--skip-paths", action="store_true", help="leave out the dense-vs-reference case")
    parser.add_argument("--runs", type=int, default=3, help="runs of every case (default 3; the median is kept)")
    parser.add_argument("--torch-too", action="store_true",
                        help="also run every case with the segmentator's dense pass in PyTorch (--backend torch)")
    parser.add_argument("--images", nargs="+", metavar="NAME",
                        help="only these image cases (names as in speed.json); their figures replace those "
                             "stored in --out, the others are kept")
    parser.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        name, path, config = args.case
        result = case_segment(path, json.loads(config)) if name == "segment" else case_paths(path)
        print(json.dumps(result))
        return
    import torch

    configs = {"": {}}
    if args.refine_above is not None:
        configs[f" refine>={args.refine_above:g}"] = {"symmetry_refine_above": args.refine_above}
    if args.time_budget_s is not None:
        configs[f" budget {args.time_budget_s:g} s"] = {"time_budget_s": args.time_budget_s}
    if args.coarse_from_mm is not None:
        configs[f" coarse from {args.coarse_from_mm:g} mm"] = {"coarse_input_min_spacing_mm": args.coarse_from_mm}
    if args.no_fine_outline_too:
        configs[" coarse outline"] = {"fine_outline": False}
    if args.torch_too:
        configs[" torch"] = {"backend": "torch"}
    if torch.cuda.is_available():
        configs.update({f"{k} cuda": {**v, "device": "cuda"} for k, v in list(configs.items())})
    with tempfile.TemporaryDirectory() as tmp:
        images = {"ffdm_3328x4084_0.07mm": _ffdm_dicom(Path(tmp)),
                  "ge_real_3328x4084_0.07mm": _ge_dicom(Path(tmp), (4084, 3328), 0.07),
                  "ge_real_2048x1668_0.14mm": _ge_dicom(Path(tmp), (2048, 1668), 0.14),
                  "cbis_ddsm_film": CBIS}
        # name -> (image, settings of its own): the 0.14 mm copy also at the 0.07 mm working pixel.
        cases = {name: (path, {}) for name, path in images.items()}
        cases["ge_real_2048x1668_0.14mm upsampled"] = (images["ge_real_2048x1668_0.14mm"], {"working_spacing_mm": 0.07})
        if args.images:
            unknown = set(args.images) - set(cases)
            if unknown:
                raise SystemExit(f"unknown image cases {sorted(unknown)}; known: {sorted(cases)}")
            cases = {name: cases[name] for name in args.images}
        results = {"machine": f"{_cpu_model()}, {platform.machine()}, {os.cpu_count()} CPU cores, "
                              f"{platform.python_version()}, {platform.platform()}"}
        for label, config in configs.items():
            for name, (path, own) in cases.items():
                runs = sorted((_run_case("segment", path, {**own, **config}) for _ in range(args.runs)),
                              key=lambda r: r["total_s"])
                # The median run's stages and memory, and every run's total.
                results[name + label] = {**runs[len(runs) // 2], "runs_total_s": [r["total_s"] for r in runs],
                                         "runs_warm_pipeline_s": sorted(r["warm_pipeline_s"] for r in runs),
                                         "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs)}
                print(name + label, [r["total_s"] for r in runs], "s", file=sys.stderr)
        if not args.skip_paths and not args.images:
            results["fast_vs_reference"] = _run_case("paths", images["ffdm_3328x4084_0.07mm"])
    if args.images and args.out.is_file():
        results = {**json.loads(args.out.read_text()), **results}
    args.out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

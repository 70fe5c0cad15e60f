"""int8 weights for the segmentator's dense pass, against float32 (issue 16; a benchmark, not a test).

    .venv/bin/python benchmarks/int8.py [--images 20] [--runs 20]

The bundled 0.07 mm segmentator's dense graph (what ONNX Runtime runs by default) is quantised with
ONNX Runtime's static quantisation (QDQ, int8 weights per channel, uint8 activations), calibrated on
the first 40 dense tiles the pipeline computes on the three bundled demo images (not evaluation images). Reported: the time of one
256 px block (the pipeline's block, with its 48 px context) float against int8, median of --runs,
and the decisions of the whole pipeline with each on the synthetic evaluation images of
evaluate_default.py: mask pixels in both over pixels in either, and the calcifications in the mask.
Writes benchmarks/int8.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mcseg.io import read_mammogram
from mcseg.networks.onnx_dense import OnnxDenseRunner, dense_graph
from mcseg.pipeline import Pipeline
from mcseg.segmentator.inference import DENSE_BLOCK_PX
from mcseg.training import find_cases

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "mcseg" / "data" / "demo"


def calibration_tiles(pipeline: Pipeline, runner: OnnxDenseRunner, limit: int = 40) -> list[np.ndarray]:
    """The dense tiles the pipeline itself passes to its runner on the demo images (at most ``limit``)."""
    tiles: list[np.ndarray] = []

    def recording(tile: np.ndarray) -> np.ndarray:
        if len(tiles) < limit:
            tiles.append(np.array(tile, dtype=np.float32))
        return runner(tile)

    pipeline._runners.dense = recording  # the pipeline's own session, watched
    for path in sorted(DEMO.glob("demo_*.dcm")):
        pipeline.run(read_mammogram(path))
    return tiles


def quantise(graph: bytes, tiles: list[np.ndarray]) -> bytes:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter({"x": t} for t in tiles)

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(graph)
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        return dst.read_bytes()


def time_block(runner: OnnxDenseRunner, tile: np.ndarray, runs: int) -> list[float]:
    runner(tile)  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        runner(tile)
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20, help="synthetic evaluation images compared (default 20)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    pipeline = Pipeline.from_weights(coarse_dir=None)
    if pipeline.backend != "onnxruntime":
        raise SystemExit("needs onnxruntime (requirements.txt)")
    seg = pipeline.segmentator
    float_graph = dense_graph(seg)
    float_runner = OnnxDenseRunner(seg, graph=float_graph)
    int8_graph = quantise(float_graph, calibration_tiles(pipeline, float_runner))
    runners = {"float32": float_runner, "int8": OnnxDenseRunner(seg, graph=int8_graph)}
    side = DENSE_BLOCK_PX + seg.dense_context_px - 1
    tile = np.random.default_rng(0).normal(size=(1, 1, side, side)).astype(np.float32)
    block = {k: time_block(r, tile, args.runs) for k, r in runners.items()}
    result = {"block_px": DENSE_BLOCK_PX, "runs": args.runs,
              "block_seconds": {k: {"median": round(statistics.median(v), 4), "min": round(min(v), 4),
                                    "max": round(max(v), 4)} for k, v in block.items()},
              "graph_bytes": {"float32": len(float_graph), "int8": len(int8_graph)}}
    result["speedup"] = round(result["block_seconds"]["float32"]["median"] / result["block_seconds"]["int8"]["median"], 2)
    data = ROOT / "runs" / "evaluation" / "synthetic" / "data"
    images = [c.image_path for c in find_cases(data)][: args.images] if data.is_dir() else []
    images += sorted(DEMO.glob("demo_*.dcm"))
    per_image, seconds = [], {"float32": [], "int8": []}
    for path in images:
        out = {}
        for name, runner in runners.items():
            pipeline._runners.dense = runner  # the pipeline's own session, replaced
            t = time.perf_counter()
            out[name] = pipeline.run(read_mammogram(path))
            seconds[name].append(time.perf_counter() - t)
        a, b = out["float32"].mask > 0, out["int8"].mask > 0
        either = int((a | b).sum())
        per_image.append({"image": path.name, "mask_agreement": round(int((a & b).sum()) / either, 4) if either else 1.0,
                          "in_mask": {k: sum(c["in_mask"] for c in r.calcifications) for k, r in out.items()}})
    result["images"] = len(per_image)
    if per_image:
        result["mask_agreement"] = {"median": statistics.median(p["mask_agreement"] for p in per_image),
                                    "min": min(p["mask_agreement"] for p in per_image)}
        result["same_calcification_count"] = sum(p["in_mask"]["float32"] == p["in_mask"]["int8"] for p in per_image)
        result["pipeline_seconds_median"] = {k: round(statistics.median(v), 2) for k, v in seconds.items()}
    result["per_image"] = per_image
    (ROOT / "benchmarks" / "int8.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "per_image"}, indent=1))


if __name__ == "__main__":
    main()

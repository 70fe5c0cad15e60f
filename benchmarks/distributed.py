"""Throughput with more processes: training patches per second under torchrun, images per minute of
`mcseg segment --workers N` (a benchmark, not a test).

    .venv/bin/python benchmarks/distributed.py [--processes 1 2] [--steps 200] [--images 8]

Training: `mcseg train` (both networks, no mining or calibration) on 10 synthetic 600 x 500 images,
the same global minibatch of 256 for every process count; patches per second = steps x 256 / the
networks' training seconds (store building excluded). Segmentation: the same folder of synthetic
1400 x 1000 images with 1 and N workers. Three runs each, median (min-max), into
benchmarks/distributed.json; the README quotes them with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mcseg.synth import SynthConfig, generate_dataset

ROOT = Path(__file__).resolve().parent.parent
TORCHRUN = Path(sys.executable).with_name("torchrun")
MCSEG = Path(sys.executable).with_name("mcseg")


def train_once(data: Path, out: Path, processes: int, steps: int, batch: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    args = [str(data), "-o", str(out), "--steps", str(steps), "--batch-size", str(batch),
            "--validate-every", str(max(steps // 4, 1)), "--mining-rounds", "0", "--calibrate-fppi", "0",
            "--seed", "0", "--no-progress"]
    command = [str(MCSEG), "train", *args] if processes == 1 else \
        [str(TORCHRUN), "--standalone", f"--nproc_per_node={processes}", "-m", "mcseg", "train", *args]
    # Each process gets its share of the cores, as --workers does for segmentation.
    threads = max(1, (os.cpu_count() or 1) // processes)
    subprocess.run(command, check=True, capture_output=True, env=os.environ | {"OMP_NUM_THREADS": str(threads)})
    report = json.loads((out / "training.json").read_text())
    nets = report["networks"]
    seconds = sum(n["seconds"] for n in nets.values())
    steps_done = sum(n["steps"] for n in nets.values())
    return {"patches_per_second": steps_done * batch / seconds,
            "final_train_loss": {k: n["history"][-1]["train_loss"] for k, n in nets.items()}}


def segment_once(images: Path, out: Path, workers: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([str(MCSEG), "segment", str(images), "-o", str(out), "--workers", str(workers),
                    "--no-progress"], check=True, capture_output=True)
    return len(list(images.glob("*.dcm"))) / (time.perf_counter() - started) * 60


def summary(values: list[float]) -> dict:
    return {"median": round(float(np.median(values)), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "runs": [round(v, 2) for v in values]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "distributed.json")
    parser.add_argument("--segment-only", action="store_true",
                        help="measure only the segmentation rows; the stored training rows are kept")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mcseg-distributed-"))
    train_data, seg_data = work / "train", work / "segment"
    generate_dataset(train_data, 10, 100, config=SynthConfig(shape_px=(600, 500)), progress=False)
    generate_dataset(seg_data, args.images, 500, progress=False)
    results: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                                f"torch {torch.__version__}, {'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}",
                     "command": "python benchmarks/distributed.py " + " ".join(sys.argv[1:]),
                     "training": {}, "segmentation": {}}
    if args.segment_only and args.out.is_file():
        stored = json.loads(args.out.read_text())
        results["training"] = stored.get("training", {})
        results["training_command"] = stored.get("training_command", stored.get("command"))
    for n in [] if args.segment_only else args.processes:
        runs = [train_once(train_data, work / f"train-{n}", n, args.steps, args.batch_size) for _ in range(args.runs)]
        results["training"][f"{n} processes"] = {
            "patches_per_second": summary([r["patches_per_second"] for r in runs]),
            "final_train_loss": runs[0]["final_train_loss"]}
        print(n, "processes:", results["training"][f"{n} processes"], flush=True)
    for n in args.processes:
        rates = [segment_once(seg_data, work / f"seg-{n}", n) for _ in range(args.runs)]
        results["segmentation"][f"{n} workers"] = {"images_per_minute": summary(rates)}
        print(n, "workers:", results["segmentation"][f"{n} workers"], flush=True)
    args.out.write_text(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

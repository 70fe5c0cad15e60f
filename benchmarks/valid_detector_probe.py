"""Would a "valid"-padded detector keep the native pipeline's decisions, and how much faster is it? (issue 16;
a probe that chooses and ships nothing)

    .venv/bin/python benchmarks/valid_detector_probe.py [--steps 600]   # about 10 minutes here; writes benchmarks/valid_detector_probe.json

Why: an exact dense detector (shared convolutions over the half-overlapping windows, identical to the
per-window result) needs a detector whose convolutions do not pad, as the segmentator's already are;
the bundled detectors pad ("same"). The README counted what one would buy (about 1.2 M multiply-adds
per window against 3.8 M); this measures it, for the native route (0.06-0.08 mm inputs) only.

The probe network: the segmentator's architecture (49 px, "valid") as a detector, its convolutions and
batch norms started from the shipped native detector's (the shapes are the same), its first fully
connected layer new; fine-tuned as the app fine-tunes (mcseg.training.finetune_network, up to 600 steps
at defaults.RETRAIN_LEARNING_RATE, the best validation step kept) on the native networks' own patch store
(runs/native-networks-aug/both/train). Then, with the shipped native segmentator and classifier:

* sensitivity at 0.25 and 1 FP/image on the native judges' images (runs/native-confirm: 24 fresh
  GE and Siemens crops at 0.07 mm; runs/native-judge/data: 24 phantoms and film crops of 0.06-0.075 mm),
  against the shipped detector; neither network was fitted on them;
* the detector stage's seconds on the GE file resampled to 0.07 mm (median of 3, ONNX Runtime, both
  detectors run per window) and the windows each flags.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from mcseg import defaults
from mcseg.defaults import NetworkConfig, TrainConfig
from mcseg.io import read_mammogram
from mcseg.networks.patch_cnn import PatchCNN
from mcseg.patches.store import PatchStore
from mcseg.pipeline import DEFAULT_NATIVE_WEIGHTS_DIR, Pipeline
from mcseg.training.finetune import finetune_network

import choose_native_networks as cn
import vendor_fold_classifier as vf

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = DEFAULT_NATIVE_WEIGHTS_DIR / "detector.pt"


def valid_start(out: Path) -> Path:
    """The shipped native detector's convolutions in a "valid" network, its first dense layer new."""
    start = out / "start.pt"
    ckpt = torch.load(SHIPPED, map_location="cpu", weights_only=True)
    network = NetworkConfig.from_dict(ckpt["network"])
    valid = PatchCNN(NetworkConfig(network.patch_size_px, "valid", network.conv_channels, network.fc_units,
                                   network.dropout))
    state = valid.state_dict()
    state.update({k: v for k, v in ckpt["state_dict"].items() if not k.startswith("fc1.") and k in state})
    valid.load_state_dict(state)
    torch.save(ckpt | valid.checkpoint(), start)
    return start


def detector_seconds(pipeline: Pipeline, path: Path) -> tuple[float, int]:
    mammo = read_mammogram(path)
    frame = pipeline.prepare(mammo)
    pipeline.detect(frame)  # builds the inference session
    times, flagged = [], 0
    for _ in range(3):
        started = time.perf_counter()
        result = pipeline.detect(frame)
        times.append(time.perf_counter() - started)
        flagged = int(result.flagged.sum())
    return round(statistics.median(times), 3), flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600, help="fine-tuning steps of the valid detector")
    args = parser.parse_args()
    out = ROOT / "runs" / ("valid-detector" if args.steps == 600 else f"valid-detector-{args.steps}")
    out.mkdir(parents=True, exist_ok=True)
    trained = out / "detector.pt"
    if not trained.is_file():
        store = PatchStore(ROOT / "runs" / "native-networks-aug" / "both" / "train" / "patches-49px.sqlite")
        config = TrainConfig(max_steps=args.steps, validate_every=defaults.RETRAIN_VALIDATE_EVERY,
                             learning_rate=defaults.RETRAIN_LEARNING_RATE, batch_size=defaults.BATCH_SIZE,
                             early_stopping_patience=defaults.RETRAIN_EARLY_STOPPING_PATIENCE, seed=0)
        stats = finetune_network("detector", store, valid_start(out), trained, config)
        (out / "train.json").write_text(json.dumps(stats, indent=1))
    stats = json.loads((out / "train.json").read_text())
    shipped_stats = json.loads((ROOT / "runs" / "native-networks-aug" / "both" / "done.json").read_text())["detector"]

    segmentator = DEFAULT_NATIVE_WEIGHTS_DIR / "segmentator.pt"
    arms = {"shipped ('same')": Pipeline.from_weights(SHIPPED, segmentator, coarse_dir=None, native_dir=None),
            "valid": Pipeline.from_weights(trained, segmentator, coarse_dir=None, native_dir=None)}
    folders = [ROOT / "runs" / "native-confirm" / "train-ge", ROOT / "runs" / "native-confirm" / "train-siemens",
               ROOT / "runs" / "native-judge" / "data"]
    score = cn.scorer(DEFAULT_NATIVE_WEIGHTS_DIR / "candidate_classifier.npz")
    background = ROOT / "runs" / "native-confirm" / "backgrounds-0.07mm" / "GH133.dcm"
    result = {"training": {"valid": {k: stats.get(k) for k in ("steps", "best_step", "seconds", "patch_validation")},
                           "shipped": {k: shipped_stats.get(k) for k in ("best_step", "patch_validation")}},
              "parameters": {name: sum(p.numel() for p in arm.detector.parameters()) for name, arm in arms.items()},
              "arms": {}}
    for name, pipeline in arms.items():
        found = [m for folder in folders for m in vf.matches(vf.harvest_scored(pipeline, sorted(folder.glob("*.dcm")),
                                                                              folder), score)]
        seconds, flagged = detector_seconds(pipeline, background)
        result["arms"][name] = {"sensitivity_at_fppi": vf.sensitivities(found),
                                "detector_seconds_ge_0.07mm": seconds, "flagged_windows_ge_0.07mm": flagged}
        print(name, json.dumps(result["arms"][name]), flush=True)
    store = ROOT / "benchmarks" / "valid_detector_probe.json"
    stored = json.loads(store.read_text()) if store.is_file() else {}
    stored = stored if "by_steps" in stored else {"by_steps": {"600": stored}} if stored else {"by_steps": {}}
    stored["by_steps"][str(args.steps)] = result
    store.write_text(json.dumps(stored, indent=1))
    print(json.dumps(result["training"], indent=1))


if __name__ == "__main__":
    main()

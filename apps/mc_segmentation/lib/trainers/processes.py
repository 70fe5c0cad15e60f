"""How many processes a training request asks for, and running a training job in that many ranks under
torchrun: shared by the detector/segmentator trainer and the baselines' trainers."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)


#: MONAI Label's multi-GPU options (its BasicTrainTask's names and defaults), and ours.
PROCESS_OPTIONS: dict[str, Any] = {"multi_gpu": True, "gpus": "all", "processes": 0}


def train_processes(request: dict[str, Any], batch_size: int | None) -> tuple[int, str | None]:
    """How many training processes a request asks for, and the GPUs they use ("0,1"; None: all or CPU).

    ``processes`` > 0 is taken as given; 0 means one per selected GPU when ``multi_gpu`` is on and
    there are two or more, else one. ValueError names a bad option."""
    multi_gpu = request.get("multi_gpu", PROCESS_OPTIONS["multi_gpu"])
    if isinstance(multi_gpu, str) and multi_gpu.lower() in ("true", "false"):
        multi_gpu = multi_gpu.lower() == "true"
    if not isinstance(multi_gpu, bool):
        raise ValueError(f"multi_gpu must be true or false, not {multi_gpu!r}")
    processes = request.get("processes", PROCESS_OPTIONS["processes"])
    if isinstance(processes, bool) or not isinstance(processes, int) or not 0 <= processes <= 64:
        raise ValueError(f"processes must be an integer from 0 (automatic) to 64, not {processes!r}")
    gpus = str(request.get("gpus", PROCESS_OPTIONS["gpus"]) or "all").strip()
    available = torch.cuda.device_count()
    if gpus == "all":
        selected, visible = list(range(available)), None
    else:
        try:
            selected = [int(g) for g in gpus.split(",")]
        except ValueError:
            raise ValueError(f"gpus must be 'all' or GPU numbers such as '0,1', not {gpus!r}") from None
        if any(not 0 <= g < available for g in selected) or len(set(selected)) != len(selected):
            raise ValueError(f"gpus {gpus!r}: this server has {available} GPU(s)")
        visible = ",".join(map(str, selected))
    count = processes or (len(selected) if multi_gpu and len(selected) > 1 else 1)
    if available and count > max(len(selected), 1):
        raise ValueError(f"{count} processes need as many GPUs; {len(selected)} selected")
    if batch_size is not None and batch_size % count:  # None: the trainer splits any minibatch
        raise ValueError(f"batch_size {batch_size} does not split evenly over {count} processes")
    return count, visible


def run_under_torchrun(target: list[str], processes: int, gpus: str | None, stats_out: Path, what: str,
                       cpu_only: bool = False) -> dict[str, Any]:
    """``torchrun --standalone --nproc_per_node processes TARGET...``, its output into this task's log;
    the stats its rank 0 wrote to ``stats_out``. ``cpu_only``: ranks that keep their tensors on the CPU."""
    env = dict(os.environ)
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpus
    if cpu_only or not torch.cuda.is_available():  # share the cores: N ranks with all threads each would thrash
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // processes))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               *target]
    log.info("%s: %s", what, " ".join(command))
    tail: deque[str] = deque(maxlen=30)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        for line in proc.stdout:
            tail.append(line.rstrip())
            log.info("%s", line.rstrip())
    if proc.returncode != 0 or not stats_out.is_file():
        raise RuntimeError(f"training {what} in {processes} processes failed (exit {proc.returncode}):\n"
                           + "\n".join(tail))
    return json.loads(stats_out.read_text())

"""torch.distributed for training: one process per device under ``torchrun``, DDP over the networks.

Every rank draws the same global minibatch of patch *ids* (the samplers share a seed) and fetches,
augments and back-propagates only its own slice of it; DistributedDataParallel averages the
gradients, so N ranks with B / N patches each take the step one process takes with B, and no two
ranks see the same patch of a step. Rank 0 alone writes files (patch store, checkpoints, reports)
and runs the whole-image stages (hard-negative mining, calibration); the others wait for it.
Without ``torchrun`` (WORLD_SIZE unset or 1) everything here is a no-op.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current() -> Shard:
    if dist.is_available() and dist.is_initialized():
        return Shard(dist.get_rank(), dist.get_world_size())
    return Shard()


def setup_from_env(cpu_only: bool = False) -> Shard:
    """Join the process group ``torchrun`` describes (NCCL on GPUs, gloo on CPUs or with
    ``cpu_only``, for trainers that keep their tensors on the CPU); no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available() or dist.is_initialized():
        return current()
    if torch.cuda.is_available() and not cpu_only:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return current()


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def leave(code: int = 0) -> int:
    """A rank's clean end after its work succeeded. Under torchrun: wait for every rank, then end
    the process at once (``os._exit``) without destroying the group or running the interpreter's
    shutdown, where gloo's threads aborted a rank now and then ("terminate called without an active
    exception", twice in CI, each time after every rank had passed the barrier). In one process:
    ``teardown`` and return ``code``."""
    if current().world > 1:
        barrier()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        logging.shutdown()
        os._exit(code)
    teardown()
    return code


def data_parallel(model: torch.nn.Module) -> torch.nn.Module:
    """The module a training loop steps: ``model`` under DistributedDataParallel when several ranks
    train (each starts from rank 0's weights, gradients are averaged), ``model`` itself otherwise.

    Batch norm is synchronised across GPUs (SyncBatchNorm needs CUDA); on CPUs each rank normalises
    its own slice, as plain DDP does, so N ranks match one process statistically, not bit for bit.
    """
    if current().world == 1:
        return model
    device = next(model.parameters()).device
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                                     else None)


def share_weight(global_size: int) -> float:
    """Factor for a rank's mean loss over its share of a minibatch of ``global_size``, so that DDP's
    average of the ranks' gradients is the gradient of the mean over the whole minibatch, also when
    it does not split evenly (the last minibatch of an epoch)."""
    shard = current()
    return len(range(shard.rank, global_size, shard.world)) * shard.world / global_size


def share(batch: T) -> T:
    """This rank's rows of a global minibatch that every rank drew alike (rank r: rows r, r + N, ...)."""
    shard = current()
    return batch if shard.world == 1 else batch[shard.rank::shard.world]


def device_for(shard: Shard) -> torch.device:
    """A rank's device: its own GPU under torchrun when there are GPUs, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) if shard.world > 1 else 0)
    return torch.device("cpu")


def barrier() -> None:
    if current().world > 1:
        dist.barrier()


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank."""
    if current().world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def mean_over_ranks(value: float) -> float:
    """The mean of a number over the ranks (each rank's minibatch loss -> the global batch's)."""
    if current().world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / current().world


def on_main(work: Callable[[], T]) -> T:
    """Run ``work`` on rank 0 only; every rank gets its result (or its exception)."""
    if current().world == 1:
        return work()
    result: Any = None
    error: BaseException | None = None
    if current().is_main:
        try:
            result = work()
        except Exception as exc:  # re-raised on every rank below
            error = exc
    result, error = broadcast((result, error))
    if error is not None:
        raise error
    return result

"""Training of the detector and the segmentator (Valvano 2019 sec. 3.3-3.4).

Adam at lr 1e-3 on minibatches of 256 balanced patches drawn on the fly from
the SQLite store, D4 augmentation, lr halved when the validation loss
plateaus, early stopping that keeps the best model. A stopped run resumes from
its last state file. CUDA is used when present. Under ``torchrun`` every rank trains
its slice of each minibatch with DistributedDataParallel (see ``distributed``).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from mcseg.defaults import NetworkConfig, TrainConfig
from mcseg.evaluation.patch_table import evaluate_patches
from mcseg.io.atomic import atomic_path
from mcseg.networks import PatchCNN
from mcseg.patches import BalancedSampler, PatchStore
from mcseg.training import distributed

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    role: str
    checkpoint: Path
    steps: int
    best_step: int
    best_val_loss: float
    validation: dict[str, Any]
    seconds: float
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_network(
    role: str,
    store: PatchStore,
    out_path: str | Path,
    network: NetworkConfig,
    config: TrainConfig = TrainConfig(),
    metadata: dict[str, Any] | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    resume: bool = True,
    on_validation: Callable[[dict[str, Any]], None] | None = None,
    init_from: str | Path | None = None,
    val_split: str = "val",
    select_by: Callable[[PatchCNN], float] | None = None,
    select_every: int = 1,
) -> TrainResult:
    """Train one network on the store's 'train' split, select on its ``val_split``.

    ``init_from`` starts from a checkpoint's weights (a fine-tuning round). ``select_by``, when
    given, scores the network (eval mode, on the CPU; higher is better) at every ``select_every``-th
    validation and at the last step, and the checkpoint kept is the best by that score instead of
    by the patch loss: the patch loss need not follow a whole-image measure. The learning rate and
    early stopping still follow the patch loss.
    """
    if network.patch_size_px != store.patch_size_px:
        raise ValueError(f"the store holds {store.patch_size_px} px patches, the network wants "
                         f"{network.patch_size_px} px")
    shard = distributed.current()
    device = device or (distributed.device_for(shard) if shard.world > 1 else default_device())
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    state_path = out_path.with_name(out_path.stem + ".state.pt")
    # Each rank its own dropout masks (the initial weights come from rank 0 anyway); the patch
    # sampler's seed is shared, so that the ranks draw the same global minibatch.
    torch.manual_seed(config.seed + shard.rank)
    rng = np.random.default_rng(config.seed)

    model = PatchCNN(network)
    if init_from is not None:
        model.load_state_dict(torch.load(init_from, map_location="cpu", weights_only=True)["state_dict"])
    model = model.to(device)
    # Under torchrun the ranks start from rank 0's weights and average their gradients.
    stepped = distributed.data_parallel(model)
    model = getattr(stepped, "module", stepped)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_plateau_factor, patience=config.plateau_patience
    )
    train_sampler = BalancedSampler(store, role, "train", rng)
    val_x, val_y, val_c = BalancedSampler(store, role, val_split, np.random.default_rng(config.seed + 1),
                                          augment=False).batch(config.validation_patches)
    step, best_loss, best_step, stale, history = 0, float("inf"), 0, 0, []
    best_score, validations = float("-inf"), 0
    # Any number of ranks resumes what any number left: every rank reads rank 0's state file (the
    # weights and optimiser are the same on every rank, and so is the patch sampler, which draws the
    # global minibatch whole on each rank). Rank 0 takes back its own dropout RNG; the others seed
    # theirs from the step, so that they do not repeat the masks of the run's start.
    resumable = distributed.broadcast(resume and state_path.is_file())
    if resumable:
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, best_loss, best_step, stale, history = (state["step"], state["best_loss"], state["best_step"],
                                                      state["stale"], state["history"])
        best_score, validations = state.get("best_score", float("-inf")), state.get("validations", len(history))
        train_sampler.rng = state["rng"]
        if shard.is_main:
            torch.set_rng_state(state["torch_rng"])
        else:
            torch.manual_seed(config.seed + shard.rank + 1_000_003 * state["step"])
        log.info("%s: rank %d of %d resuming at step %d from %s", role, shard.rank, shard.world, step, state_path)

    started = time.perf_counter()
    bar = tqdm(total=config.max_steps, initial=step, desc=f"train {role}", unit="step",
               disable=not progress or not shard.is_main)
    stopped_early = False
    running = []
    while step < config.max_steps:
        stepped.train()
        x, y, _ = train_sampler.batch(config.batch_size, shard.rank, shard.world)
        logits = stepped(torch.from_numpy(x).to(device))
        loss = F.cross_entropy(logits, torch.from_numpy(y).to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.append(distributed.mean_over_ranks(loss.item()))
        step += 1
        bar.update(1)
        if step % config.validate_every and step != config.max_steps:
            continue
        # Rank 0 validates; every rank takes its verdict, so the schedule and early stopping agree.
        val = distributed.broadcast(evaluate_patches(model, val_x, val_y, val_c, device) if shard.is_main else None)
        scheduler.step(val["loss"])
        record = {"step": step, "train_loss": round(float(np.mean(running)), 5), "val_loss": val["loss"],
                  "val_accuracy": val["accuracy"], "lr": optimizer.param_groups[0]["lr"]}
        running = []
        history.append(record)
        bar.set_postfix(val_loss=val["loss"], val_acc=val["accuracy"])
        validations += 1
        improved = val["loss"] < best_loss
        if improved:
            best_loss, stale = val["loss"], 0
        else:
            stale += 1
        last = step == config.max_steps or bool(config.early_stopping_patience
                                                   and stale >= config.early_stopping_patience)
        if select_by is None:
            keep = improved
        elif validations % select_every == 0 or last:
            score = distributed.broadcast(_selection_score(model, select_by) if shard.is_main else None)
            record["selection_score"] = val["selection_score"] = score
            keep = score > best_score
            best_score = max(best_score, score)
        else:
            keep = False
        if keep:
            best_step = step
            if shard.is_main:
                _save(model, out_path, role, step, val, metadata, config)
        if on_validation:
            on_validation(record)
        if shard.is_main:  # whole or not at all: a run stopped mid-write resumes from the previous state
            with atomic_path(state_path) as tmp:
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "step": step, "best_loss": best_loss,
                            "best_step": best_step, "stale": stale, "history": history,
                            "best_score": best_score, "validations": validations,
                            "rng": train_sampler.rng, "torch_rng": torch.get_rng_state()}, tmp)
        if config.early_stopping_patience and stale >= config.early_stopping_patience:
            stopped_early = True
            log.info("%s: early stop at step %d (best %d)", role, step, best_step)
            break
    bar.close()
    distributed.barrier()  # rank 0 has written the best checkpoint
    best = torch.load(out_path, map_location="cpu", weights_only=True)
    if shard.is_main:
        state_path.unlink(missing_ok=True)  # the run is complete: nothing left to resume
    return TrainResult(role=role, checkpoint=out_path, steps=step, best_step=best_step, best_val_loss=best_loss,
                       validation=best["validation"], seconds=time.perf_counter() - started,
                       stopped_early=stopped_early, history=history)


def _selection_score(model: PatchCNN, select_by: Callable[[PatchCNN], float]) -> float:
    was_on, was_training = next(model.parameters()).device, model.training
    try:
        return float(select_by(model.to("cpu").eval()))
    finally:
        model.to(was_on).train(was_training)


def _save(model: PatchCNN, path: Path, role: str, step: int, val: dict[str, Any],
          metadata: dict[str, Any] | None, config: TrainConfig) -> None:
    was_on = next(model.parameters()).device
    ckpt = model.to("cpu").checkpoint(
        role=role,
        step=step,
        validation=val,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        train_config=asdict(config),
        **(metadata or {}),
    )
    with atomic_path(path) as tmp:  # the published file is always complete: inference may load it any time
        torch.save(ckpt, tmp)
    model.to(was_on)

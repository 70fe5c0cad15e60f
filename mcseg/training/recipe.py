"""The training recipe: from labelled cases to published weights.

Two entry points share one patch store layout (``patches-<N>px.sqlite`` in the
training folder) and one train/validation split (:func:`assign_splits`):

* :func:`train_from_scratch` (``mcseg train``): both networks from random
  weights, then rounds of hard-negative mining, each followed by fine-tuning,
  then calibration of the operating threshold on the validation images.
* :func:`retrain_from_labels` (the MONAI Label app's trainer): one network
  fine-tuned from the weights in use on the images annotators have labelled.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mcseg.defaults import (CALIBRATION_TARGET_FPPI, CONV_CHANNELS, DETECTOR_PADDING, FINETUNE_LR_FACTOR, MINING_ROUNDS,
                            PATCH_SIZE_PX, RETRAIN_DICE_IMAGES, RETRAIN_REHEARSAL_IMAGES, SEGMENTATOR_PADDING,
                            WORKING_SPACING_MM, NetworkConfig, PipelineConfig, TrainConfig)
from mcseg.io.atomic import atomic_write_text
from mcseg.io.errors import InputError
from mcseg.patches import PatchStore
from mcseg.pipeline import DEFAULT_COARSE_WEIGHTS_DIR, LABELLED_SPACING_META, ROUTES, Pipeline, load_network
from mcseg.training import distributed
from mcseg.training.calibrate import calibrate_operating_threshold, store_calibration
from mcseg.training.candidate_classifier import refit_beside
from mcseg.training.data import (DEFAULT_LABEL_SUFFIX, LabelledCase, find_cases, patch_store_path,
                                 store_mismatch, workspace_store)
from mcseg.training.finetune import finetune_network, image_dice, refresh_store
from mcseg.training.mining import mine_hard_negatives
from mcseg.training.rehearsal import rehearsal_band, rehearsal_cases
from mcseg.training.trainer import train_network

log = logging.getLogger(__name__)

ROLES = ("detector", "segmentator")


class TrainingDataError(InputError):
    """The training data cannot be used as given (no labelled image, a patch store of other images)."""


@dataclass(frozen=True)
class TrainingPlan:
    """Everything `mcseg train` decides before it starts; the CLI fills it from its arguments."""

    data: Path
    out: Path
    label_suffix: str = DEFAULT_LABEL_SUFFIX
    roles: tuple[str, ...] = ROLES
    patch_size_px: int = PATCH_SIZE_PX
    padding: dict[str, str] = field(default_factory=lambda: {"detector": DETECTOR_PADDING,
                                                             "segmentator": SEGMENTATOR_PADDING})
    conv_channels: dict[str, tuple[int, ...]] = field(default_factory=lambda: {"detector": CONV_CHANNELS,
                                                                               "segmentator": CONV_CHANNELS})
    train: TrainConfig = TrainConfig()
    finetune_steps: int | None = None      # per mining round; None: train.max_steps
    mining_rounds: int = MINING_ROUNDS
    calibrate_fppi: float = CALIBRATION_TARGET_FPPI  # 0: keep the default operating threshold
    working_spacing_mm: float = WORKING_SPACING_MM
    spacing_mm: float | None = None        # overrides the images' own pixel size
    start_round: int = 0                   # continue from OUT's checkpoints at this mining round
    rebuild_store: bool = False
    resume: bool = True
    command: str = "mcseg train"           # recorded in the checkpoints
    init_from: Path | None = None          # round 0 starts from <init_from>/<role>.pt at the fine-tuning rate

    @property
    def both_networks(self) -> bool:
        return set(self.roles) == set(ROLES)


def train_from_scratch(plan: TrainingPlan, progress: bool = True,
                       on_message: Callable[[str], None] = log.info) -> dict[str, Any]:
    """Train, mine, fine-tune and calibrate; writes OUT/<role>.pt and OUT/training.json, returns the report."""
    cases = find_cases(plan.data, plan.label_suffix)
    if not cases:
        raise TrainingDataError(f"{plan.data} holds no image with a label '*{plan.label_suffix}'")
    plan.out.mkdir(parents=True, exist_ok=True)
    store_path = patch_store_path(plan.out, plan.patch_size_px)

    def build_store() -> None:
        if plan.rebuild_store and store_path.exists():
            store_path.unlink()
        store = PatchStore(store_path, plan.patch_size_px)
        mismatch = store_mismatch(store, cases)
        if mismatch:
            raise TrainingDataError(f"{mismatch}: pass --rebuild-store to rebuild it from the data folder, "
                                    "or give another --out")
        refresh = refresh_store(store, cases, plan.working_spacing_mm, plan.spacing_mm, plan.train.seed, progress)
        if refresh.skipped:
            raise TrainingDataError(f"cannot read {len(refresh.skipped)} labelled image(s): {refresh.skipped}")

    # Under torchrun, rank 0 builds the store and runs the whole-image stages; the others train.
    distributed.on_main(build_store)
    store = PatchStore(store_path, plan.patch_size_px)
    counts = {"train": store.counts("train"), "val": store.counts("val")}
    on_message(f"patch store {store_path}: {json.dumps(counts)}")
    metadata = {"working_spacing_mm": plan.working_spacing_mm,
                "trained_on": f"{len(cases)} images from {plan.data.name}", "trained_with": plan.command}
    if plan.init_from:
        for role in plan.roles:
            if not (plan.init_from / f"{role}.pt").is_file():
                raise TrainingDataError(f"--init-from {plan.init_from}: no {role}.pt there")
        metadata["initialised_from"] = str(plan.init_from)
    report: dict[str, Any] = {"data": str(plan.data), "images": len(cases), "patches": counts,
                              "validation_images": store.image_ids("val"), "networks": {}}
    rounds = plan.mining_rounds if plan.both_networks else 0
    if plan.start_round <= 1:
        for role in ROLES:
            store.delete_kind(f"mined-{role}")  # earlier runs' hard negatives
    for round_ in range(plan.start_round, rounds + 1):
        if round_:
            mined = distributed.on_main(lambda: mine_hard_negatives(
                store, cases, _single_view_pipeline(plan), plan.spacing_mm, progress=progress))
            on_message(f"mining round {round_}: {json.dumps(mined)} hard negatives")
            report.setdefault("mined", []).append(mined)
        # Round 0 trains from scratch (or from --init-from's weights at the fine-tuning rate);
        # each mining round fine-tunes at the lower learning rate.
        config = plan.train if not (round_ or plan.init_from) else dataclasses.replace(
            plan.train, max_steps=(plan.finetune_steps or plan.train.max_steps) if round_ else plan.train.max_steps,
            learning_rate=plan.train.learning_rate * FINETUNE_LR_FACTOR)
        for role in plan.roles:
            checkpoint = plan.out / f"{role}.pt"
            network = NetworkConfig(patch_size_px=plan.patch_size_px, padding=plan.padding[role],
                                    conv_channels=tuple(plan.conv_channels[role]))
            init = checkpoint if round_ else (plan.init_from / f"{role}.pt" if plan.init_from else None)
            if init is not None and round_ == 0:
                _check_same_architecture(init, network, role)
            result = train_network(role, store, checkpoint, network, config, metadata, progress=progress,
                                   resume=plan.resume, init_from=init)
            report["networks"][f"{role} round {round_}"] = {
                "checkpoint": str(result.checkpoint), "steps": result.steps, "best_step": result.best_step,
                "seconds": round(result.seconds, 1), "validation": result.validation, "history": result.history}
            on_message(f"{role} round {round_}: best step {result.best_step}/{result.steps}, validation "
                       f"accuracy {result.validation['accuracy']}%, error per class "
                       f"{result.validation['error_rate_pct']}")
    if plan.both_networks and plan.calibrate_fppi > 0:
        report["calibration"] = distributed.on_main(lambda: _calibrate(plan, store, cases, progress))
        c = report["calibration"]
        on_message(f"operating threshold {c['operating_threshold']}: sensitivity {c['sensitivity']} at "
                   f"{c['fppi']} false positives per {c['calibrated_on']} image")
    if distributed.current().is_main:
        atomic_write_text(plan.out / "training.json", json.dumps(report, indent=1))
    return report


def _check_same_architecture(checkpoint: Path, network: NetworkConfig, role: str) -> None:
    stored = load_network(checkpoint, role)[0].config
    if stored != network:
        raise TrainingDataError(f"--init-from {checkpoint} holds a {role} of another architecture "
                                f"({stored.padding}, channels {stored.conv_channels}) than the one asked for "
                                f"({network.padding}, channels {network.conv_channels}); start from scratch "
                                "or ask for the same one")


def _single_view_pipeline(plan: TrainingPlan) -> Pipeline:
    # One view: a hard negative is a pixel a single view gets wrong, at 1/8 the cost.
    return Pipeline(load_network(plan.out / "detector.pt", "detector")[0],
                    load_network(plan.out / "segmentator.pt", "segmentator")[0],
                    PipelineConfig(working_spacing_mm=plan.working_spacing_mm, segmentator_symmetries=1))


def _calibrate(plan: TrainingPlan, store: PatchStore, cases: list[LabelledCase], progress: bool) -> dict[str, Any]:
    held_out = [c for c in cases if store.split_of(c.image_id) == "val"]
    # A single labelled image has no held-out partner: calibrate on it, and say so.
    calibrated_on = "validation" if held_out else "training"
    pipeline = Pipeline.from_weights(plan.out / "detector.pt", plan.out / "segmentator.pt",
                                     PipelineConfig(working_spacing_mm=plan.working_spacing_mm))
    calibration = calibrate_operating_threshold(pipeline, held_out or cases, plan.calibrate_fppi, plan.spacing_mm,
                                                progress=progress)
    calibration["calibrated_on"] = calibrated_on
    store_calibration(plan.out / "segmentator.pt", calibration)
    return calibration


def retrain_from_labels(
    role: str,
    cases: list[LabelledCase],
    start_from: str | Path,
    publish_to: str | Path,
    workspace: str | Path,
    config: TrainConfig,
    load_pipeline: Callable[[], Pipeline],
    spacing_mm: float | None = None,
    dice_images: int = RETRAIN_DICE_IMAGES,
    progress: bool = True,
    route: str = "fine",
    labelled_spacing_mm: list[float] | None = None,
    rehearsal_images: int = RETRAIN_REHEARSAL_IMAGES,
) -> dict[str, Any]:
    """Fine-tune ``role`` from ``start_from`` on ``cases``, publish it at ``publish_to``, and report.

    ``load_pipeline`` returns the pipeline with the weights in use after publishing;
    its masks give the whole-image Dice. ``route`` says which of its networks were retrained
    (``coarse``: those of ``pipeline.coarse``; the cases should be the ones that route serves, see
    mcseg.training.routes). ``labelled_spacing_mm`` ([finest, coarsest] pixel size of the cases) is
    recorded in the checkpoint, where :meth:`Pipeline.coarse_from_mm` reads it. The stats also go to
    ``workspace/<role>.stats.json``. ``rehearsal_images`` generated phantoms of the labels' pixel band
    (mcseg.training.rehearsal) join the cases in the patch store and in the classifier's refit; the
    whole-image Dice is the site's labels' alone.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    if route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}, not {route!r}")
    if not cases:
        raise TrainingDataError("no image has a final label yet: save a label before training")
    band = rehearsal_band(route, labelled_spacing_mm)
    if spacing_mm is not None:  # a pixel size forced on every case would be wrong for the phantoms
        rehearsal_images = 0

    # Under torchrun rank 0 brings the store up to date and reports; every rank trains.
    def update_store() -> dict[str, Any]:
        store, working_spacing_mm = workspace_store(workspace, start_from)
        rehearsed = rehearsal_cases(workspace, band, rehearsal_images, progress)
        return refresh_store(store, cases + rehearsed, working_spacing_mm, spacing_mm, progress=progress).to_json()

    refresh = distributed.on_main(update_store)
    store, _ = workspace_store(workspace, start_from)
    rehearsed = rehearsal_cases(workspace, band, rehearsal_images)  # made by rank 0 above: only read here
    stats = finetune_network(role, store, start_from, publish_to, config, progress=progress,
                             metadata={LABELLED_SPACING_META: labelled_spacing_mm} if labelled_spacing_mm else None)

    def report() -> dict[str, Any]:
        stats.update(route=route, labelled_images=len(cases), store=refresh, processes=distributed.current().world,
                     rehearsal={"band": band, "images": len(rehearsed)})
        pipeline = load_pipeline()
        served = pipeline.coarse if route == "coarse" else pipeline
        if served is None:
            raise ValueError("retrained coarse networks, but the pipeline after publishing has none")
        segmentator = Path(served.weights["segmentator"]["path"])
        # The candidate classifier belongs to the networks it was fitted to: beside a published
        # segmentator it is refitted on the same labels (or removed); the bundled one stays.
        if segmentator.parent.resolve() == Path(publish_to).parent.resolve():
            stats["candidate_classifier"] = refit_beside(
                served.weights["detector"]["path"], segmentator, cases + rehearsed, spacing_mm, progress,
                listed_like=DEFAULT_COARSE_WEIGHTS_DIR / "segmentator.pt" if route == "coarse" else None)
            pipeline = load_pipeline()  # with the refitted classifier, or none
        stats["image_validation"] = image_dice(pipeline, cases, spacing_mm, max_images=dice_images,
                                               progress=progress)
        atomic_write_text(Path(workspace) / f"{role}.stats.json", json.dumps(stats, indent=1))
        return stats

    return distributed.on_main(report)

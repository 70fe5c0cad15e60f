"""Segment many images: in this process or in N worker processes, resumable, one progress bar.

Each worker is a process with its own PyTorch threads (the cores shared out), loads the weights
once and writes its results itself; the parent only hands out files and reports. An image whose
``S.json`` is already in the output folder is skipped unless ``overwrite`` (the JSON is written
last and atomically, so it marks a finished image). The outputs do not depend on the number of
workers at equal threads per worker (tested byte for byte, timings aside). Across thread counts
PyTorch's CPU kernels may change a probability's last float bit (measured: at most 1.2e-7), which
can, rarely, move a figure rounded to 4 decimals.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm.auto import tqdm

from mcseg.defaults import PipelineConfig


@dataclass(frozen=True)
class BatchJob:
    """What every worker needs to build the same pipeline."""

    out: Path
    config: PipelineConfig
    detector: Path | None = None
    segmentator: Path | None = None
    #: (detector, segmentator) of the coarse route; None: as Pipeline.from_weights decides by default
    coarse: tuple[Path, Path] | None = None
    #: (detector, segmentator) for inputs the fine networks' site labels do not cover (Pipeline.covers)
    fallback: tuple[Path, Path] | None = None
    spacing_mm: float | None = None
    preview: bool = False
    threads: int | None = None


@dataclass
class ImageOutcome:
    path: Path
    stem: str
    calcifications: int = 0
    clusters: int = 0
    seconds: float = 0.0
    written: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class BatchSummary:
    done: list[ImageOutcome] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[ImageOutcome] = field(default_factory=list)


def output_stems(files: list[Path]) -> list[tuple[Path, str]]:
    """Each input with its output stem; two inputs named alike get -1, -2 ... so none overwrites another."""
    from mcseg.io.writer import image_stem

    seen: dict[str, int] = {}
    stems = []
    for path in files:
        stem = image_stem(path)
        if stem in seen:
            seen[stem] += 1
            stem = f"{stem}-{seen[stem]}"
        else:
            seen[stem] = 0
        stems.append((path, stem))
    return stems


_PIPELINE: Any = None
_JOB: BatchJob | None = None


def _init_worker(job: BatchJob, pipeline=None) -> None:
    """Set up a worker: its threads, and the pipeline (loaded here unless the caller has one)."""
    import torch

    from mcseg.pipeline import Pipeline

    from mcseg.runtime import keep_freed_memory

    global _PIPELINE, _JOB
    keep_freed_memory()
    if job.threads:
        torch.set_num_threads(job.threads)
    _PIPELINE = pipeline or Pipeline.from_weights(job.detector, job.segmentator, job.config,
                                                        coarse_weights=job.coarse, fallback_weights=job.fallback)
    _JOB = job


def _segment_one(item: tuple[Path, str], progress: bool = False) -> ImageOutcome:
    from mcseg.io import InputError, read_mammogram
    from mcseg.io.writer import write_result

    path, stem = item
    assert _PIPELINE is not None and _JOB is not None
    outcome = ImageOutcome(path, stem)
    try:
        mammo = read_mammogram(path, spacing_mm=_JOB.spacing_mm, fallback_spacing_mm=_PIPELINE.config.fallback_spacing_mm)
        result = _PIPELINE.run(mammo, progress=progress)
    except InputError as exc:
        outcome.error = str(exc)
        return outcome
    written = write_result(result, _JOB.out, stem)
    if _JOB.preview:
        from mcseg.io.preview import write_preview

        written["preview"] = write_preview(result, _JOB.out / f"{stem}.preview.png")
    outcome.calcifications = sum(c["in_mask"] for c in result.calcifications)
    outcome.clusters = len(result.clusters)
    outcome.seconds = result.seconds
    outcome.written = {k: str(v) for k, v in written.items()}
    outcome.notes = list(mammo.assumptions)
    return outcome


def segment_batch(files: list[Path], job: BatchJob, workers: int = 1, overwrite: bool = True,
                  progress: bool = True, on_outcome: Callable[[ImageOutcome], None] | None = None,
                  pipeline=None) -> BatchSummary:
    """Segment ``files`` into ``job.out`` with ``workers`` processes (1: in this process, with
    ``pipeline`` when given, so the weights are not loaded twice)."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    job.out.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary()
    todo = []
    for path, stem in output_stems(files):
        if not overwrite and (job.out / f"{stem}.json").is_file():
            summary.skipped.append(path)
        else:
            todo.append((path, stem))
    bar = tqdm(total=len(todo), desc="images", unit="image", disable=not progress or len(todo) < 2)

    def record(outcome: ImageOutcome) -> None:
        (summary.failed if outcome.error else summary.done).append(outcome)
        bar.update(1)
        if on_outcome:
            on_outcome(outcome)

    if workers == 1 or len(todo) < 2:
        import torch

        threads_before = torch.get_num_threads()  # this process goes on after the batch
        _init_worker(job, pipeline)
        try:
            for item in todo:
                record(_segment_one(item, progress=progress and len(todo) < 2))
        finally:
            torch.set_num_threads(threads_before)
    else:
        cores = os.cpu_count() or 1
        threads = job.threads or max(1, cores // workers)
        # spawn, not fork: a forked child of a process that has started PyTorch's threads can hang.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context, initializer=_init_worker,
                                 initargs=(BatchJob(**{**job.__dict__, "threads": threads}),)) as pool:
            for outcome in pool.map(_segment_one, todo):
                record(outcome)
    bar.close()
    return summary

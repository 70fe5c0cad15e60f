"""Which networks a saved label retrains (:meth:`Pipeline.training_route_of`).

A label on a 0.05 mm film or a 0.07 mm FFDM retrains the 0.07 mm networks, one on a 0.1 mm FFDM or a
0.14 mm copy the coarse ones; the retrained networks then serve the inputs their labels came from
(benchmarks/site_retraining.py measured why 0.07 mm labels go to the 0.07 mm networks). The pixel size of
each image is remembered in a small JSON file, keyed by the file's size and modification time, so
that a training run does not decode every labelled mammogram again just to learn it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from mcseg.defaults import COARSE_INPUT_MIN_SPACING_MM
from mcseg.io.atomic import atomic_path, atomic_write_text
from mcseg.io.errors import InputError
from mcseg.io.reader import read_mammogram
from mcseg.pipeline import DEFAULT_COARSE_WEIGHTS_DIR, DEFAULT_NATIVE_WEIGHTS_DIR, ROUTES, WEIGHTS_DIR, Pipeline
from mcseg.training.data import LabelledCase

log = logging.getLogger(__name__)


def route_workspace(workspace: str | Path, route: str) -> Path:
    """A route's folder under ``workspace`` (its training folder, or where its retrained networks are
    published): the fine networks' is ``workspace`` itself (as before routes), the coarse ones' a
    subfolder, since both are N x N patch networks, at different pixel sizes."""
    return Path(workspace) if route == "fine" else Path(workspace) / route


def published_weights(models_dir: str | Path, role: str, route: str = "fine") -> Path:
    """Where retraining publishes ``role`` of ``route``: MODELS/<role>.pt, MODELS/coarse/<role>.pt."""
    return route_workspace(models_dir, route) / f"{role}.pt"


def weights_in_use(models_dir: str | Path, role: str, route: str = "fine") -> Path:
    """The published network of ``route``, else the bundled one."""
    published = published_weights(models_dir, role, route)
    if published.is_file():
        return published
    return (DEFAULT_COARSE_WEIGHTS_DIR if route == "coarse" else WEIGHTS_DIR) / f"{role}.pt"


def start_weights(models_dir: str | Path, role: str, route: str, labelled_spacing_mm: list[float] | None) -> Path:
    """The network a retraining of ``route`` starts from: :func:`weights_in_use`, except that labels of
    native FFDM (COARSE_INPUT_MIN_SPACING_MM and coarser) retrain the bundled native networks, which
    serve those inputs, where no site retraining of the 0.07 mm networks has been published yet."""
    in_use = weights_in_use(models_dir, role, route)
    native = DEFAULT_NATIVE_WEIGHTS_DIR / f"{role}.pt"
    if (route == "fine" and in_use.parent == WEIGHTS_DIR and native.is_file() and labelled_spacing_mm
            and min(labelled_spacing_mm) >= COARSE_INPUT_MIN_SPACING_MM):
        return native
    return in_use


def publish_native_partner(models_dir: str | Path, role: str) -> Path | None:
    """Before a retraining that starts from the native networks (:func:`start_weights`) publishes ``role``:
    the other network of the native pair published as it is, where none of the site's is, so that the
    pair in use stays the native one (the bundled 0.07 mm network of the other role is the film one).
    Returns the path written, if any."""
    partner = next(r for r in ("detector", "segmentator") if r != role)
    target = published_weights(models_dir, partner, "fine")
    if target.is_file():
        return None
    with atomic_path(target) as tmp:  # whole or not at all, as every publish
        shutil.copyfile(DEFAULT_NATIVE_WEIGHTS_DIR / f"{partner}.pt", tmp)
    return target


def retraining_start(models_dir: str | Path, role: str, route: str, labelled_spacing_mm: list[float] | None) -> Path:
    """What a retraining of ``role`` starts from (:func:`start_weights`); where that is the native pair,
    its partner is published first (:func:`publish_native_partner`). The app's trainer and
    benchmarks/site_retraining.py call this."""
    start = start_weights(models_dir, role, route, labelled_spacing_mm)
    if start.parent == DEFAULT_NATIVE_WEIGHTS_DIR:
        publish_native_partner(models_dir, role)
    return start


def _stamp(path: Path) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def pixel_sizes(cases: list[LabelledCase], spacing_mm: float | None = None,
                cache_path: str | Path | None = None) -> dict[str, tuple[float, float] | None]:
    """Each case's pixel size in mm (None where the image cannot be read); ``spacing_mm`` overrides all."""
    if spacing_mm is not None:
        return {c.image_id: (float(spacing_mm), float(spacing_mm)) for c in cases}
    cache: dict = {}
    if cache_path is not None:
        try:
            cache = json.loads(Path(cache_path).read_text())
        except (OSError, ValueError):
            cache = {}
    out, changed = {}, False
    for case in cases:
        key = str(Path(case.image_path).resolve())
        try:
            stamp = _stamp(case.image_path)
        except OSError:
            out[case.image_id] = None
            continue
        hit = cache.get(key)
        if hit and hit.get("stamp") == stamp:
            out[case.image_id] = tuple(hit["spacing_mm"])
            continue
        try:
            out[case.image_id] = tuple(read_mammogram(case.image_path).spacing_mm)
        except InputError as exc:  # the patch store names the reason when it skips the case
            log.warning("%s: no pixel size (%s)", case.image_id, exc)
            out[case.image_id] = None
            continue
        cache[key], changed = {"stamp": stamp, "spacing_mm": list(out[case.image_id])}, True
    if changed and cache_path is not None:
        atomic_write_text(cache_path, json.dumps(cache, indent=1))
    return out


def cases_by_route(pipeline: Pipeline, cases: list[LabelledCase],
                   sizes: dict[str, tuple[float, float] | None]) -> dict[str, list[LabelledCase]]:
    """The cases each route's networks retrain on (:meth:`Pipeline.training_route_of` of their pixel
    size in ``sizes``, from :func:`pixel_sizes`), for every route with at least one, in ROUTES order.

    An image whose pixel size cannot be read goes with the fine networks, whose patch store then
    skips it with the reason."""
    out: dict[str, list[LabelledCase]] = {}
    for case in cases:
        size = sizes.get(case.image_id)
        out.setdefault("fine" if size is None else pipeline.training_route_of(size), []).append(case)
    return {route: out[route] for route in ROUTES if route in out}


def spacing_range_mm(cases: list[LabelledCase], sizes: dict[str, tuple[float, float] | None]) -> list[float] | None:
    """[finest, coarsest] pixel size of the cases (each image by its finer axis); None if none is known."""
    known = [min(sizes[c.image_id]) for c in cases if sizes.get(c.image_id)]
    return [min(known), max(known)] if known else None

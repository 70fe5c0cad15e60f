"""Which networks a saved label trains: the ones that serve its image (:meth:`Pipeline.route_of`).

A label on a 0.07 mm FFDM trains the coarse networks that find its calcifications, one on 0.05 mm
film the fine ones; each set then keeps serving the inputs it was chosen for. The pixel size of
each image is remembered in a small JSON file, keyed by the file's size and modification time, so
that a training run does not decode every labelled mammogram again just to learn it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from mcseg.io.atomic import atomic_write_text
from mcseg.io.errors import InputError
from mcseg.io.reader import read_mammogram
from mcseg.pipeline import ROUTES, Pipeline
from mcseg.training.data import LabelledCase

log = logging.getLogger(__name__)


def route_workspace(workspace: str | Path, route: str) -> Path:
    """A route's training folder: the fine networks' is ``workspace`` itself (as before routes), the
    coarse ones' a subfolder, since both read N x N patches, at different pixel sizes."""
    return Path(workspace) if route == "fine" else Path(workspace) / route


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


def cases_by_route(pipeline: Pipeline, cases: list[LabelledCase], spacing_mm: float | None = None,
                   cache_path: str | Path | None = None) -> dict[str, list[LabelledCase]]:
    """The cases of every route that serves at least one of them, in ROUTES order.

    An image whose pixel size cannot be read goes with the fine networks, whose patch store then
    skips it with the reason."""
    sizes = pixel_sizes(cases, spacing_mm, cache_path)
    out: dict[str, list[LabelledCase]] = {}
    for case in cases:
        size = sizes[case.image_id]
        out.setdefault("fine" if size is None else pipeline.route_of(size), []).append(case)
    return {route: out[route] for route in ROUTES if route in out}

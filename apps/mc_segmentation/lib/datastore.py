"""A local datastore that checks what it is given.

Uploads must be readable 2D mammograms and saved labels must be complete,
finite 0/1 masks of their image's size; anything else is refused with a 4xx
before it is stored, so the datastore only ever holds what training can use.
An all-zero label is accepted: it says the image has no calcification (a
negative case). Labels and the datastore file are written atomically (temporary
file, fsync, rename): a crash mid-save leaves the previous version intact.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

from fastapi import HTTPException
from filelock import FileLock

from mcseg.io.atomic import atomic_copy, atomic_write_text
from mcseg.io.errors import InputError
from mcseg.io.labels import read_label_checked
from mcseg.io.reader import read_mammogram
from monailabel.datastore.local import DataModel, LocalDatastore

from lib.errors import client_errors
from lib.threadsafe import serialised

log = logging.getLogger(__name__)

#: Image and label files the datastore lists (MONAI Label's default has no .dcm).
EXTENSIONS = ("*.dcm", "*.DCM", "*.nii.gz", "*.nii", "*.nrrd", "*.mha", "*.png", "*.tif", "*.tiff")


@serialised
class MammogramDatastore(LocalDatastore):
    def __init__(self, *args, spacing_mm: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spacing_mm = spacing_mm
        #: The tag of the last label saved: MONAI Label's on_save_label hook gets only the
        #: image and label ids, and the app starts training only for "final" labels.
        self.last_saved_tag: str | None = None
        #: Called after an upload or a saved label (the app's background scorer wakes up).
        self.on_change: Callable[[], None] | None = None
        # The datastore file is replaced by a rename (atomic writes, below), which the file watcher
        # reports as a move, not the modification LocalDatastore listens for: without this, what a
        # batch-infer or training subprocess writes would stay invisible to the server.
        handler = getattr(self, "_handler", None)
        if handler is not None:
            handler.on_moved = self._on_moved

    def _on_moved(self, event) -> None:
        if os.path.abspath(getattr(event, "dest_path", "")) == os.path.abspath(self._datastore_config_path):
            self._init_from_datastore_file()  # a no-op for this process's own writes (same mtime)

    def _reload(self) -> None:
        """Re-read the datastore file before changing it: training and scoring run in
        other processes and write image info too; writing a stale copy would undo theirs.
        MONAI Label 0.8.5 has no public call that re-reads the file, so this resets the
        timestamp LocalDatastore compares and calls its own loader."""
        self._config_ts = 0
        self._init_from_datastore_file()

    def update_image_info(self, image_id: str, info: dict[str, Any]) -> None:
        self._reload()
        super().update_image_info(image_id, info)

    def add_image(self, image_id: str, image_filename: str, image_info: dict[str, Any]) -> str:
        with client_errors():
            _check_params(image_info)
            try:
                mammo = read_mammogram(image_filename, spacing_mm=self.spacing_mm)
            except InputError as exc:
                # The upload sits in a temporary file: name it as the client did.
                msg = str(exc).replace(str(image_filename), image_id).replace(Path(image_filename).name, image_id)
                raise type(exc)(f"upload rejected: {msg}") from exc
        info = dict(image_info or {})
        info.update({"rows": mammo.shape[0], "cols": mammo.shape[1], "spacing_mm": list(mammo.spacing_mm),
                     "spacing_source": mammo.spacing_source})
        self._reload()
        added = super().add_image(image_id, image_filename, info)
        if self.on_change:
            self.on_change()
        return added

    def save_label(self, image_id: str, label_filename: str, label_tag: str, label_info: dict[str, Any]) -> str:
        """Check the label, then store it so that a crash mid-save leaves the previous one intact."""
        image = self.get_image_uri(image_id)
        if not image:
            raise HTTPException(status_code=404, detail=f"image {image_id!r} is not in the datastore")
        with client_errors():
            _check_params(label_info)
            mammo = read_mammogram(image, spacing_mm=self.spacing_mm)
            label = read_label_checked(label_filename, mammo.shape, name=f"label for {image_id}")
        info = dict(label_info or {})
        info["calcification_pixels"] = int(label.sum())
        self._reload()
        label_id = self._store_label(image_id, label_filename, label_tag, info)
        self.last_saved_tag = label_tag
        if self.on_change:
            self.on_change()
        return label_id

    def _store_label(self, image_id: str, label_filename: str, label_tag: str, info: dict[str, Any]) -> str:
        # LocalDatastore.save_label copies the file in place (shutil.copy): a crash mid-copy would
        # leave half a label where a good one was. Same bookkeeping, with an atomic copy.
        obj = self._datastore.objects.get(image_id)
        if not obj:
            raise HTTPException(status_code=404, detail=f"image {image_id!r} is not in the datastore")
        _, label_ext = self._to_id(os.path.basename(label_filename))
        name = self._filename(image_id, label_ext)
        dest = Path(self._datastore.label_path(label_tag)) / name
        with FileLock(self._lock_file):
            atomic_copy(label_filename, dest)
            info = {**info, "ts": int(time.time()), "name": name}
            obj.labels[label_tag] = DataModel(info=info, ext=label_ext)
            self._update_datastore_file(lock=False)
        log.info("label saved: %s => %s (%s)", image_id, label_tag, dest)
        return image_id

    def _update_datastore_file(self, lock: bool = True) -> None:
        """Write the datastore file atomically (the stock writer truncates it, then writes)."""
        def write() -> None:
            self._ignore_event_config = True
            text = json.dumps(self._datastore.model_dump(exclude={"base_path"}), indent=2, default=str)
            atomic_write_text(self._datastore_config_path, text)
            self._config_ts = os.stat(self._datastore_config_path).st_mtime

        if lock:
            with FileLock(self._lock_file):
                write()
        else:
            write()


def _check_params(params: Any) -> None:
    if params is not None and not isinstance(params, dict):
        raise InputError(f"params must be a JSON object, not {type(params).__name__}")

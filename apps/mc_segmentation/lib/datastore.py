"""A local datastore that checks what it is given.

Uploads must be readable 2D mammograms and saved labels must match their
image's size; anything else is refused with a 4xx before it is stored, so the
datastore only ever holds what training can use. An all-zero label is
accepted: it says the image has no calcification (a negative case).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from mcseg.io.errors import InputError
from mcseg.io.reader import read_mammogram
from mcseg.io.labels import read_label
from monailabel.datastore.local import LocalDatastore

from lib.errors import client_errors

log = logging.getLogger(__name__)

#: Image and label files the datastore lists (MONAI Label's default has no .dcm).
EXTENSIONS = ("*.dcm", "*.DCM", "*.nii.gz", "*.nii", "*.nrrd", "*.mha", "*.png", "*.tif", "*.tiff")


class MammogramDatastore(LocalDatastore):
    def __init__(self, *args, spacing_mm: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spacing_mm = spacing_mm
        #: The tag of the last label saved: MONAI Label's on_save_label hook gets only the
        #: image and label ids, and the app starts training only for "final" labels.
        self.last_saved_tag: str | None = None

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
        return super().add_image(image_id, image_filename, info)

    def save_label(self, image_id: str, label_filename: str, label_tag: str, label_info: dict[str, Any]) -> str:
        image = self.get_image_uri(image_id)
        if not image:
            raise HTTPException(status_code=404, detail=f"image {image_id!r} is not in the datastore")
        with client_errors():
            try:
                label = read_label(label_filename)
            except InputError as exc:
                raise InputError(f"label for {image_id}: {exc}") from exc
            mammo = read_mammogram(image, spacing_mm=self.spacing_mm)
            if label.shape != mammo.shape:
                raise InputError(f"label for {image_id} is {label.shape[0]} x {label.shape[1]} pixels; "
                                 f"the image is {mammo.shape[0]} x {mammo.shape[1]}")
        info = dict(label_info or {})
        info["calcification_pixels"] = int(label.sum())
        self._reload()
        label_id = super().save_label(image_id, label_filename, label_tag, info)
        self.last_saved_tag = label_tag
        return label_id

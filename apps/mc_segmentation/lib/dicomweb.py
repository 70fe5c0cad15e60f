"""MONAI Label's DICOMweb datastore, made to work for mammograms.

Out of the box MONAI Label searches a PACS for CT series, converts each series to NIfTI and writes
labels with dcmqi, which it downloads at start-up. For mammography this adapter instead:

* lists the series the search filter selects (default ``{"Modality": "MG"}``; conf
  ``dicomweb_search_filter`` as JSON) and serves each one's image as the DICOM file itself (a
  mammogram series holds one 2D image; mcseg reads it with its geometry, VOI LUT and laterality);
* keeps at most ``dicomweb_cache_images`` fetched images in its cache folder, the least recently
  used going first (never one with a label that exists only here);
* writes a saved final label back to the PACS as a DICOM Segmentation (highdicom, through
  ``mcseg.io.dicom_objects``) and reads final labels back from there for training;
* stores each automatic result as a SEG and a TID 1500 structured report (``store_result``).

A SEG written by a saved label has the series description ``FINAL_LABEL_DESCRIPTION``; automatic
results have another, so they never count as annotations.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from mcseg.io.atomic import atomic_write_text
from mcseg.io.dicom_objects import calcification_report, calcification_segmentation
from mcseg.io.labels import read_label_checked
from mcseg.io.reader import read_mammogram
from mcseg.io.writer import write_label
from monailabel.datastore.dicom import DICOMwebClientX, DICOMWebDatastore
from monailabel.datastore.local import LocalDatastore
from monailabel.datastore.utils.dicom import dicom_web_download_series
from monailabel.interfaces.datastore import DefaultLabelTag
from monailabel.interfaces.exception import ImageNotFoundException

from lib.errors import client_errors
from lib.threadsafe import serialised

log = logging.getLogger(__name__)

DEFAULT_SEARCH_FILTER = {"Modality": "MG"}
FINAL_LABEL_DESCRIPTION = "mcseg final label"
RESULT_DESCRIPTION = "mcseg calcifications"
DEFAULT_CACHE_IMAGES = 50


class PacsError(RuntimeError):
    """The PACS cannot be reached or does not answer as DICOMweb should."""


@serialised
class MammographyDICOMwebDatastore(DICOMWebDatastore):
    def __init__(self, url: str, search_filter: dict[str, Any] | None = None, cache_path: str | None = None,
                 cache_images: int = DEFAULT_CACHE_IMAGES, session=None):
        client = DICOMwebClientX(url=url, session=session)
        try:
            client.search_for_studies(limit=1)
        except Exception as exc:  # requests' many errors: the message says which
            raise PacsError(f"the DICOMweb server at {url} does not answer: {exc}") from exc
        self.cache_images = max(1, int(cache_images))
        self.last_saved_tag: str | None = None  # the tag of the label saved last (the app's on_save_label)
        super().__init__(client, search_filter or dict(DEFAULT_SEARCH_FILTER), cache_path, fetch_by_frame=False,
                         convert_to_nifti=False)
        self._extensions = ["*" + suffix for suffix in self._SUFFIXES]

    # --- images ----------------------------------------------------------------

    #: Cached files keep their series UID as the name: strip whole known suffixes, never at a dot
    #: of the UID (MONAI Label's default would cut "1.2.840...dcm" at its first dot).
    _SUFFIXES = (".seg.nrrd", ".nii.gz", ".nrrd", ".nii", ".dcm")

    def _to_id(self, file: str) -> tuple[str, str]:
        for suffix in self._SUFFIXES:
            if file.endswith(suffix):
                return file[: -len(suffix)], suffix
        return super()._to_id(file)

    def get_image_uri(self, image_id: str) -> str:
        """The image's DICOM file in the cache, fetched from the PACS the first time ("" when the
        filter does not list it)."""
        if image_id not in self.list_images():
            return ""
        cached = LocalDatastore.get_image_uri(self, image_id)
        if cached and os.path.isfile(cached):
            os.utime(cached)  # most recently used
            return cached
        folder = Path(self._datastore.image_path()) / f".fetch-{image_id}"
        try:
            dicom_web_download_series(None, image_id, str(folder), self._client, False)
            files = sorted(folder.glob("*.dcm"))
            if not files:
                return ""
            if len(files) > 1:
                log.warning("series %s holds %d instances; using the first (a mammogram series holds one image)",
                            image_id, len(files))
            LocalDatastore.add_image(self, image_id, str(files[0]), self._dicom_info(image_id))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self._evict(keep=image_id)
        return LocalDatastore.get_image_uri(self, image_id)

    def _evict(self, keep: str) -> None:
        """Drop the least recently used images while the cache holds more than ``cache_images``;
        the one just fetched and labelled ones (their label may exist only here) stay."""
        labelled = set(LocalDatastore.get_labeled_images(self))
        candidates = [(os.path.getmtime(uri), image_id) for image_id in list(self._datastore.objects)
                      if image_id != keep and image_id not in labelled
                      and os.path.isfile(uri := LocalDatastore.get_image_uri(self, image_id))]
        excess = len(self._datastore.objects) - self.cache_images
        dropped = sorted(candidates)[: max(0, excess)]
        for _, image_id in dropped:
            LocalDatastore.remove_image(self, image_id)
            log.info("cache: dropped %s (over %d images)", image_id, self.cache_images)
        if dropped:
            LocalDatastore.refresh(self)  # forget them now, not when the file watcher next looks

    def _source(self, image_id: str) -> tuple[Path, pydicom.Dataset]:
        path = self.get_image_uri(image_id)
        if not path:
            raise FileNotFoundError(f"image {image_id!r} is not in the PACS's {self._search_filter} series")
        return Path(path), pydicom.dcmread(path, stop_before_pixels=True)

    # --- image info ------------------------------------------------------------

    # Image info (the active-learning scores above all) lives in a file of its own, not in the
    # cache's index: an image dropped from the cache keeps its score, or the background scorer
    # would fetch and score the same images over and over once the PACS holds more than the cache.

    @property
    def _info_path(self) -> Path:
        return Path(self._datastore_path) / "image_info.json"

    def _kept_info(self) -> dict[str, dict[str, Any]]:
        if getattr(self, "_kept", None) is None:
            try:
                self._kept = json.loads(self._info_path.read_text())
            except (OSError, ValueError):
                self._kept = {}
        return self._kept

    def get_image_info(self, image_id: str) -> dict[str, Any]:
        return {**LocalDatastore.get_image_info(self, image_id), **self._kept_info().get(image_id, {})}

    def update_image_info(self, image_id: str, info: dict[str, Any]) -> None:
        if image_id not in self.list_images():
            raise ImageNotFoundException(f"Image {image_id} not found")
        kept = self._kept_info()
        kept[image_id] = {**kept.get(image_id, {}), **info}
        atomic_write_text(self._info_path, json.dumps(kept, default=str))

    # --- labels ----------------------------------------------------------------

    def save_label(self, image_id: str, label_filename: str, label_tag: str, label_info: dict[str, Any],
                   label_id: str = "") -> str:
        with client_errors():
            _, source = self._source(image_id)
            mask = read_label_checked(label_filename, (int(source.Rows), int(source.Columns)))
        self.last_saved_tag = None  # set once the label is stored: what on_save_label reads
        if label_tag == DefaultLabelTag.FINAL:
            seg = calcification_segmentation(mask, source, series_number=9101)
            seg.SeriesDescription = FINAL_LABEL_DESCRIPTION
            self._client.store_instances([seg])
            label_info = {**label_info, "SeriesInstanceUID": str(seg.SeriesInstanceUID),
                          "StudyInstanceUID": str(source.StudyInstanceUID)}
        label_id = LocalDatastore.save_label(self, image_id, label_filename, label_tag, label_info)
        self.last_saved_tag = label_tag
        return label_id

    def _final_segs(self) -> list[tuple[str, str]]:
        """(image series, SEG series) of every final label in the PACS whose image the filter lists."""
        images = set(self.list_images())
        pairs = []
        for found in self._client.search_for_series(search_filters={"Modality": "SEG"}):
            seg = Dataset.from_json(found)
            if str(seg.get("SeriesDescription", "")) != FINAL_LABEL_DESCRIPTION:
                continue
            meta = Dataset.from_json(self._client.retrieve_series_metadata(
                str(seg.StudyInstanceUID), str(seg.SeriesInstanceUID))[0])
            referenced = meta.get("ReferencedSeriesSequence")
            if referenced and str(referenced[0].SeriesInstanceUID) in images:
                pairs.append((str(referenced[0].SeriesInstanceUID), str(seg.SeriesInstanceUID)))
        return pairs

    def get_labeled_images(self, label_tag: str | None = None, labels: list[str] | None = None) -> list[str]:
        return sorted({image for image, _ in self._final_segs()} | set(LocalDatastore.get_labeled_images(self)))

    def get_label_uri(self, label_id: str, label_tag: str, image_id: str = "") -> str:
        local = LocalDatastore.get_label_uri(self, label_id, label_tag)
        if local or label_tag != DefaultLabelTag.FINAL:
            return local
        return self._fetch_final_label(label_id, image_id) or ""

    def _fetch_final_label(self, seg_series: str, image_id: str) -> str | None:
        """A final label from the PACS (its SEG series) as a label file with the image's geometry."""
        path, source = self._source(image_id)
        found = self._client.search_for_series(search_filters={"SeriesInstanceUID": seg_series})
        if not found:
            return None
        study = str(Dataset.from_json(found[0]).StudyInstanceUID)
        instances = self._client.retrieve_series(study, seg_series)
        if not instances:
            return None
        # Read with pydicom: highdicom 0.22 cannot re-read its own 2D SEGs whose source states a
        # PixelSpacing (it wants a SliceThickness there, which a projection image has not).
        seg = instances[0]
        mask = np.zeros((int(source.Rows), int(source.Columns)), np.uint8)
        frames = seg.pixel_array.reshape(-1, mask.shape[0], mask.shape[1])
        for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence):
            number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
            mask[frame > 0] = number
        with tempfile.TemporaryDirectory() as tmp:
            out = write_label(mask, read_mammogram(path), Path(tmp) / f"{image_id}.nii.gz")
            LocalDatastore.save_label(self, image_id, str(out), DefaultLabelTag.FINAL,
                                      {"SeriesInstanceUID": seg_series, "source": "PACS"})
        return LocalDatastore.get_label_uri(self, image_id, DefaultLabelTag.FINAL)

    def _download_labeled_data(self) -> None:
        for image, seg_series in self._final_segs():
            if not LocalDatastore.get_label_uri(self, image, DefaultLabelTag.FINAL):
                self._fetch_final_label(seg_series, image)

    # --- results ---------------------------------------------------------------

    def store_result(self, image_id: str, label_path: str, result: dict[str, Any]) -> dict[str, str]:
        """Send an automatic result to the PACS as a SEG and a TID 1500 SR; returns their series UIDs."""
        import SimpleITK as sitk

        _, source = self._source(image_id)
        mask = sitk.GetArrayFromImage(sitk.ReadImage(label_path))
        mask = mask.reshape(mask.shape[-2:]) if mask.ndim > 2 else mask
        # Only the calcifications (1): an "uncertain" segment (2) is a reading aid, not a finding.
        seg = calcification_segmentation((mask == 1).astype(np.uint8), source, series_number=9001)
        seg.SeriesDescription = RESULT_DESCRIPTION
        sr = calcification_report(result, source, series_number=9002)
        self._client.store_instances([seg, sr])
        return {"seg_series": str(seg.SeriesInstanceUID), "sr_series": str(sr.SeriesInstanceUID)}


def search_filter_from_conf(value: str | None) -> dict[str, Any]:
    if not value:
        return dict(DEFAULT_SEARCH_FILTER)
    parsed = json.loads(value)
    if not isinstance(parsed, dict):
        raise ValueError(f"dicomweb_search_filter must be a JSON object, not {value!r}")
    return parsed

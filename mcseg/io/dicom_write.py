"""Write single-frame, uncompressed mammography DICOM files.

Used by the synthetic-data generator (and by tests) to produce inputs that look
like what a PACS would send: the right SOP class for the modality, pixel
spacing in ImagerPixelSpacing and/or PixelSpacing, laterality and view tags.
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

logger = logging.getLogger(__name__)

#: SOP classes by modality. Anything else is written as Secondary Capture but
#: keeps its own Modality value (a "not a mammogram" input for tests).
SOP_CLASS_BY_MODALITY: dict[str, str] = {
    # Digital Mammography X-Ray Image Storage - For Presentation
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
    # Digital X-Ray Image Storage - For Presentation
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    # Computed Radiography Image Storage
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    # Secondary Capture Image Storage
    "OT": "1.2.840.10008.5.1.4.1.1.7",
    "SC": "1.2.840.10008.5.1.4.1.1.7",
}
SECONDARY_CAPTURE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"

#: PatientOrientation (row direction, column direction) by (laterality, view).
#: Convention: the chest wall is on the image's left edge for a left breast and
#: on its right edge for a right breast (the usual back-to-back hanging), so
#: moving right along a row goes anterior (L) or posterior (R).
_PATIENT_ORIENTATION: dict[tuple[str, str], list[str]] = {
    ("L", "CC"): ["A", "R"],
    ("R", "CC"): ["P", "L"],
    ("L", "MLO"): ["A", "FR"],
    ("R", "MLO"): ["P", "FL"],
    ("L", "ML"): ["A", "F"],
    ("R", "ML"): ["P", "F"],
    ("L", "LM"): ["A", "F"],
    ("R", "LM"): ["P", "F"],
}

_SPACING_TAGS = {
    "both": ("ImagerPixelSpacing", "PixelSpacing"),
    "ImagerPixelSpacing": ("ImagerPixelSpacing",),
    "PixelSpacing": ("PixelSpacing",),
    "none": (),
}


def _format_ds(value: float) -> str:
    """A Decimal String with 6 significant digits (DS values are at most 16 chars)."""
    return f"{float(value):.6g}"


def write_mammogram_dicom(
    path: str | Path,
    pixels: np.ndarray,
    *,
    spacing_mm: tuple[float, float] | None,
    spacing_tag: str = "both",
    modality: str = "MG",
    photometric: str = "MONOCHROME2",
    laterality: str | None = "L",
    view: str = "CC",
    rescale_slope: float | None = None,
    rescale_intercept: float | None = None,
    bits_stored: int = 14,
    patient_id: str = "SYNTH",
    series_description: str = "mcseg synthetic",
    detector_type: str | None = None,
) -> Path:
    """Write `pixels` (rows x cols, unsigned integers) as an Explicit VR Little Endian DICOM.

    `spacing_mm` is (row_mm, col_mm); `spacing_tag` picks "ImagerPixelSpacing",
    "PixelSpacing", "both" or "none". For MONOCHROME1 the caller passes pixels
    already inverted: the writer stores them as given. `detector_type` is written as DetectorType
    (DIRECT, SCINTILLATOR, STORAGE, FILM) when given. Returns the path written.
    """
    path = Path(path)
    pixels = np.asarray(pixels)
    if pixels.ndim != 2:
        raise ValueError(f"pixels must be 2-D (rows x cols), got shape {pixels.shape}")
    if not np.issubdtype(pixels.dtype, np.integer):
        raise TypeError(f"pixels must be an integer array, got {pixels.dtype}")
    if not 1 <= bits_stored <= 16:
        raise ValueError(f"bits_stored must be in 1..16, got {bits_stored}")
    if pixels.size and (int(pixels.min()) < 0 or int(pixels.max()) >= 2**bits_stored):
        raise ValueError(
            f"pixel values [{pixels.min()}, {pixels.max()}] do not fit in {bits_stored} bits stored"
        )
    if spacing_tag not in _SPACING_TAGS:
        raise ValueError(f"spacing_tag must be one of {sorted(_SPACING_TAGS)}, not {spacing_tag!r}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"photometric must be MONOCHROME1 or MONOCHROME2, not {photometric!r}")
    if laterality is not None and laterality not in ("L", "R"):
        raise ValueError(f"laterality must be 'L', 'R' or None, not {laterality!r}")
    pixels = np.ascontiguousarray(pixels, dtype="<u2")

    modality = modality.upper()
    sop_class_uid = SOP_CLASS_BY_MODALITY.get(modality, SECONDARY_CAPTURE_SOP_CLASS)
    sop_instance_uid = generate_uid()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = False

    now = _dt.datetime.now()
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")

    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.ReferringPhysicianName = ""
    ds.SeriesDescription = series_description
    ds.PatientName = patient_id
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.BodyPartExamined = "BREAST"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    if sop_class_uid == SECONDARY_CAPTURE_SOP_CLASS:
        ds.ConversionType = "WSD"  # type 1 in the SC Equipment module
    if modality in ("MG", "DX"):
        ds.PresentationIntentType = "FOR PRESENTATION"

    if laterality is not None:
        # MG stores the image-level ImageLaterality; Laterality (series level) is
        # written too because many readers only look there.
        if modality == "MG":
            ds.ImageLaterality = laterality
        ds.Laterality = laterality
        orientation = _PATIENT_ORIENTATION.get((laterality, view.upper()))
        if orientation is None:
            orientation = _PATIENT_ORIENTATION[(laterality, "CC")][:1] + ["F"]
        ds.PatientOrientation = orientation
    ds.ViewPosition = view

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = (int(n) for n in pixels.shape)
    ds.BitsAllocated = 16
    ds.BitsStored = int(bits_stored)
    ds.HighBit = int(bits_stored) - 1
    ds.PixelRepresentation = 0
    if modality == "MG":
        ds.BurnedInAnnotation = "NO"
    if detector_type:
        ds.DetectorType = detector_type

    if spacing_mm is not None:
        row_mm, col_mm = (float(v) for v in spacing_mm)
        if row_mm <= 0 or col_mm <= 0:
            raise ValueError(f"spacing_mm must be positive, got {spacing_mm}")
        for keyword in _SPACING_TAGS[spacing_tag]:
            setattr(ds, keyword, [_format_ds(row_mm), _format_ds(col_mm)])
    elif spacing_tag != "none":
        logger.debug("no spacing_mm given: writing %s without a spacing tag", path.name)

    if rescale_slope is not None:
        ds.RescaleSlope = _format_ds(rescale_slope)
    if rescale_intercept is not None:
        ds.RescaleIntercept = _format_ds(rescale_intercept)
    if rescale_slope is not None or rescale_intercept is not None:
        ds.RescaleType = "US"  # unspecified: there are no Hounsfield units in a mammogram

    # Explicit OW: the dictionary VR of Pixel Data is the ambiguous "OB or OW".
    ds.add(DataElement(0x7FE00010, "OW", pixels.tobytes()))

    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(str(path), ds, write_like_original=False)
    logger.debug("wrote %s (%s, %dx%d)", path, modality, ds.Rows, ds.Columns)
    return path

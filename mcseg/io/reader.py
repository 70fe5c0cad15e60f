"""Read a 2D mammogram from DICOM, PNG/TIFF/JPEG or NRRD/NIfTI/MHA.

The result is a :class:`Mammogram`: float32 pixels in which calcifications are
bright (modality LUT applied, MONOCHROME1 inverted), the pixel size used for
physical measurements and where it came from, and the file's own geometry as
ITK (and so 3D Slicer) reads it, which every output label copies so that it
overlays the image exactly.

Two spacings are kept on purpose. For MG files ITK/GDCM takes ImagerPixelSpacing
and ignores PixelSpacing, and for Secondary Captures it reports 1 mm; a label
must copy that geometry to overlay in Slicer, while sizes in mm should use the
best calibrated value (PixelSpacing, then ImagerPixelSpacing, then the user's
``spacing_mm``, then the configured fallback, which the output then records).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mcseg.defaults import FALLBACK_SPACING_MM, MAGNIFICATION_VIEW_MIN_FACTOR, MAX_PIXEL_SIZE_MM, MIN_PIXEL_SIZE_MM
from mcseg.io.errors import ImageSizeError, NotAMammogramError, PixelSizeError, UnreadableImageError

log = logging.getLogger(__name__)

#: Modalities accepted as projection mammograms. OT/SC: secondary captures
#: (digitised film such as CBIS-DDSM is stored that way).
#: DetectorType values (DX Detector module, which the Digital Mammography IOD requires) of a digital
#: detector; the fourth defined term, FILM, is a film digitiser.
DIGITAL_DETECTOR_TYPES = frozenset({"DIRECT", "SCINTILLATOR", "STORAGE"})
MAMMOGRAM_MODALITIES = frozenset({"MG", "DX", "CR", "OT", "SC", "RG", "PX", ""})
#: SOP classes of breast tomosynthesis (3D) objects.
TOMOSYNTHESIS_SOP_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.13.1.3", "1.2.840.10008.5.1.4.1.1.13.1.4",
                                       "1.2.840.10008.5.1.4.1.1.13.1.5"})
#: Transfer syntaxes whose pixel data are stored as is (their length can be checked before decoding).
NATIVE_SYNTAXES = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
                             "1.2.840.10008.1.2.1.99"})
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
RASTER_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".pgm", ".bmp")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
#: Every file name ending read_mammogram accepts.
IMAGE_SUFFIXES = DICOM_SUFFIXES + RASTER_SUFFIXES + ITK_SUFFIXES

#: Guards against input no mammogram can be: smaller than a few windows, or so
#: large that a mistaken spacing or a stitched file would exhaust memory.
MIN_SIDE_PX = 64
MAX_PIXELS = 150_000_000
#: A plausible physical extent of a mammogram side; beyond it the spacing is wrong.
MAX_SIDE_MM = 600.0


@dataclass
class Mammogram:
    """A 2D mammogram ready for the pipeline."""

    pixels: np.ndarray                      # float32 (rows, cols), calcifications bright
    spacing_mm: tuple[float, float]         # (row, col), used for every physical quantity
    spacing_source: str                     # PixelSpacing | ImagerPixelSpacing (/ magnification factor) | user | header | fallback
    path: str = ""
    # Geometry of the file as ITK/Slicer read it, in ITK order (x = column, y = row).
    itk_spacing: tuple[float, float] = (1.0, 1.0)
    itk_origin: tuple[float, float] = (0.0, 0.0)
    itk_direction: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 1.0)
    modality: str = ""
    laterality: str | None = None           # "L" / "R" from the header, when present
    inverted: bool = False                  # MONOCHROME1 was inverted
    detector_type: str | None = None        # DICOM DetectorType (DIRECT, SCINTILLATOR, STORAGE, FILM), if given
    assumptions: list[str] = field(default_factory=list)

    @property
    def digital_detector(self) -> bool:
        """Whether the header names a digital detector: what tells a real FFDM (or CR) image from digitised
        film or a file without an acquisition record, which a pixel size cannot."""
        return self.detector_type in DIGITAL_DETECTOR_TYPES

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])

    def describe_input(self) -> dict[str, Any]:
        """What the output records about how the input was read."""
        return {
            "spacing_source": self.spacing_source,
            "modality": self.modality,
            "laterality_tag": self.laterality,
            "monochrome1_inverted": self.inverted,
            "detector_type": self.detector_type,
            "itk_geometry": {
                "spacing": list(self.itk_spacing),
                "origin": list(self.itk_origin),
                "direction": list(self.itk_direction),
            },
            "assumptions": list(self.assumptions),
        }


def read_mammogram(
    path: str | Path,
    spacing_mm: float | tuple[float, float] | None = None,
    fallback_spacing_mm: float = FALLBACK_SPACING_MM,
) -> Mammogram:
    """Read ``path`` as a 2D mammogram.

    ``spacing_mm`` (one value or (row, col)) overrides whatever the file says;
    otherwise the file's calibrated pixel size is used, and if it has none,
    ``fallback_spacing_mm``, recorded in ``assumptions``.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableImageError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith(ITK_SUFFIXES):
        mammo = _read_itk(path)
    elif name.endswith(RASTER_SUFFIXES):
        mammo = _read_raster(path)
    elif name.endswith(DICOM_SUFFIXES) or _has_dicom_preamble(path):
        mammo = _read_dicom(path)
    else:
        raise UnreadableImageError(
            f"{path}: unknown image format; expected DICOM, PNG/TIFF/JPEG or NRRD/NIfTI/MHA"
        )

    if spacing_mm is not None:
        row_mm, col_mm = _pair(spacing_mm)
        _check_pixel_size(path.name, (row_mm, col_mm), "the pixel size given (spacing_mm)")
        if mammo.spacing_source != "fallback":
            mammo.assumptions.append(
                f"pixel size {row_mm:g} x {col_mm:g} mm given by the user overrides "
                f"{mammo.spacing_mm[0]:g} x {mammo.spacing_mm[1]:g} mm from {mammo.spacing_source}"
            )
        mammo.spacing_mm, mammo.spacing_source = (row_mm, col_mm), "user"
    elif mammo.spacing_source == "fallback":
        mammo.spacing_mm = (fallback_spacing_mm, fallback_spacing_mm)
        msg = (
            f"no pixel size in the file: assumed {fallback_spacing_mm:g} mm "
            "(pass spacing_mm / --spacing-mm to set it)"
        )
        mammo.assumptions.append(msg)
        log.warning("%s: %s", path.name, msg)
    else:
        _check_pixel_size(path.name, mammo.spacing_mm, f"the file's {mammo.spacing_source}",
                          hint=" (pass spacing_mm / --spacing-mm if you know the right value)")
    _check_label_geometry(mammo)
    _check_size(mammo)
    return mammo


# --- DICOM ------------------------------------------------------------------------


def _has_dicom_preamble(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"


def _read_dicom(path: Path) -> Mammogram:
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixel_data_handlers.util import apply_modality_lut

    try:
        ds = pydicom.dcmread(str(path))
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError) as exc:
        raise UnreadableImageError(f"{path.name}: not a readable DICOM file ({exc})") from exc
    modality = str(ds.get("Modality", "")).upper()
    if _is_tomosynthesis(ds):
        raise NotAMammogramError(
            f"{path.name}: a breast tomosynthesis slice or volume ({ds.get('Manufacturer') or 'vendor unknown'}"
            f", stored as {modality or 'no modality'}, ImageType {'/'.join(ds.get('ImageType', []))}); only 2D "
            "projection mammograms are supported: use the 2D view of the study, or its synthesized 2D image "
            "(e.g. Hologic C-View, GE V-Preview, Siemens Insight 2D), which is stored as MG"
        )
    if modality not in MAMMOGRAM_MODALITIES:
        raise NotAMammogramError(
            f"{path.name}: DICOM modality {modality!r} is not a mammogram "
            f"(expected one of MG, DX, CR or a secondary capture)"
        )
    if str(ds.get("PresentationIntentType", "")).upper() == "FOR PROCESSING":
        raise NotAMammogramError(
            f"{path.name}: a 'For Processing' (raw detector) image; the models work on 'For Presentation' "
            "images, which the acquisition workstation makes from it: send the For Presentation image instead"
        )
    if "PixelData" not in ds:
        raise NotAMammogramError(f"{path.name}: DICOM file holds no image (no PixelData)")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise NotAMammogramError(
            f"{path.name}: colour DICOM ({ds.get('PhotometricInterpretation')}); "
            "a mammogram is greyscale"
        )
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        raise NotAMammogramError(
            f"{path.name}: multi-frame DICOM ({ds.NumberOfFrames} frames, e.g. tomosynthesis); "
            "only 2D mammograms are supported"
        )
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise NotAMammogramError(
            f"{path.name}: PhotometricInterpretation {photometric}; a mammogram is MONOCHROME1 or MONOCHROME2"
        )
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    _check_pixel_count(path, rows, cols)
    _check_pixel_data_layout(path, ds, rows, cols)
    try:
        stored = _decode(ds)
    except Exception as exc:  # decoders raise many types; all mean the same to a user
        raise UnreadableImageError(f"{path.name}: DICOM pixel data cannot be decoded ({exc})") from exc
    if stored.shape != (rows, cols):
        raise UnreadableImageError(
            f"{path.name}: the pixel data decode to {stored.shape}, but Rows x Columns say {rows} x {cols}: "
            "a corrupt file"
        )
    pixels = np.asarray(apply_modality_lut(stored, ds), dtype=np.float32)

    assumptions: list[str] = []
    voi = _apply_voi(ds, pixels)
    if voi is not None:
        pixels, note = voi
        assumptions.append(note)
    inverted = photometric == "MONOCHROME1"
    if inverted:
        # MONOCHROME1 shows high values dark; invert within the image's own range
        # so calcifications (high attenuation) are bright, as in MONOCHROME2.
        pixels = float(pixels.max()) + float(pixels.min()) - pixels
        assumptions.append("MONOCHROME1: intensities inverted so calcifications are bright")

    spacing, source = _dicom_spacing(path, ds)
    if source == "ImagerPixelSpacing" and "EstimatedRadiographicMagnificationFactor" in ds:
        spacing, source = _magnification_corrected(path, ds, spacing, assumptions)
    laterality = ds.get("ImageLaterality") or ds.get("Laterality") or None
    detector_type = str(ds.get("DetectorType", "") or "").strip().upper() or None
    mammo = Mammogram(
        pixels=pixels,
        spacing_mm=spacing or (0.0, 0.0),
        spacing_source=source,
        path=str(path),
        modality=modality,
        laterality=str(laterality).upper() if laterality else None,
        inverted=inverted,
        detector_type=detector_type,
        assumptions=assumptions,
    )
    _attach_itk_geometry(mammo, path)
    return mammo


def _decode(ds: Any) -> np.ndarray:
    """The stored pixel values. Compressed syntaxes go to the pylibjpeg plugins (libjpeg, OpenJPEG,
    RLE) by name: pydicom would otherwise try Pillow first, which decodes some JPEG 2000 files
    wrongly and no 12-bit or lossless JPEG at all."""
    from pydicom.pixel_data_handlers import pylibjpeg_handler

    syntax = ds.file_meta.TransferSyntaxUID
    if (syntax not in NATIVE_SYNTAXES and pylibjpeg_handler.is_available()
            and pylibjpeg_handler.supports_transfer_syntax(syntax)):
        ds.convert_pixel_data(handler_name="pylibjpeg")
    return ds.pixel_array


def _is_tomosynthesis(ds: Any) -> bool:
    """A DBT object: its SOP class, or a 'TOMO' image type (Hologic stores reconstructed slices as CT)."""
    if str(ds.get("SOPClassUID", "")) in TOMOSYNTHESIS_SOP_CLASSES:
        return True
    image_type = {str(v).upper() for v in ds.get("ImageType", [])}
    description = str(ds.get("SeriesDescription", "")).lower()
    return bool({"TOMO", "TOMOSYNTHESIS"} & image_type) or "tomosynthesis" in description


def _check_pixel_data_layout(path: Path, ds: Any, rows: int, cols: int) -> None:
    """Refuse headers that do not describe their pixel data (checked before decoding anything)."""
    bits_allocated = int(ds.get("BitsAllocated", 0) or 0)
    bits_stored = int(ds.get("BitsStored", bits_allocated) or 0)
    if bits_allocated not in (8, 16, 32) or not 1 <= bits_stored <= bits_allocated:
        raise UnreadableImageError(
            f"{path.name}: BitsAllocated {bits_allocated} / BitsStored {bits_stored} is not a valid greyscale "
            "image layout"
        )
    if int(ds.get("PixelRepresentation", 0) or 0) not in (0, 1):
        raise UnreadableImageError(f"{path.name}: PixelRepresentation must be 0 or 1")
    syntax = str(getattr(ds.file_meta, "TransferSyntaxUID", "1.2.840.10008.1.2.1"))
    if syntax in NATIVE_SYNTAXES:
        expected = rows * cols * bits_allocated // 8
        found = len(ds.PixelData)
        if found not in (expected, expected + 1):  # one pad byte makes an odd length even
            raise UnreadableImageError(
                f"{path.name}: the pixel data hold {found:,} bytes, but Rows x Columns x BitsAllocated "
                f"({rows} x {cols} x {bits_allocated} bits) need {expected:,}: a corrupt or mislabelled file"
            )


def _apply_voi(ds: Any, pixels: np.ndarray) -> tuple[np.ndarray, str] | None:
    """The file's first VOI transform (what a viewer shows), and a note saying which, or None if it has none.

    A VOI LUT Function (LINEAR, LINEAR_EXACT, SIGMOID) names how the window is
    applied, so the window is used; otherwise a VOI LUT Sequence, then a plain window.
    """
    from pydicom.pixel_data_handlers.util import apply_voi_lut

    has_window = "WindowCenter" in ds and "WindowWidth" in ds
    has_lut = "VOILUTSequence" in ds and len(ds.VOILUTSequence) > 0
    if not (has_window or has_lut):
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    use_window = has_window and ("VOILUTFunction" in ds or not has_lut)
    try:
        out = apply_voi_lut(pixels.astype(np.float64), ds, index=0, prefer_lut=not use_window)
    except Exception as exc:  # a malformed VOI module: keep the modality values, and say so
        return pixels, f"the file's VOI LUT could not be applied ({exc}); modality values used"
    out = np.asarray(out, dtype=np.float32)
    if not np.isfinite(out).all() or float(out.max()) <= float(out.min()):
        return pixels, "the file's VOI LUT maps the image to a constant; modality values used"
    if use_window:
        centres, widths = _as_list(ds.WindowCenter), _as_list(ds.WindowWidth)
        count = f", the first of {len(centres)}" if len(centres) > 1 else ""
        note = (f"VOI LUT applied: {function} window, centre {float(centres[0]):g}, width {float(widths[0]):g}"
                f"{count} (as the file asks a viewer to show it)")
    else:
        note = f"VOI LUT applied: the first VOI LUT Sequence item of {len(ds.VOILUTSequence)}"
    return out, note


def _as_list(value: Any) -> list:
    return list(value) if hasattr(value, "__len__") and not isinstance(value, (str, bytes)) else [value]


def _magnification_corrected(path: Path, ds: Any, spacing: tuple[float, float],
                             assumptions: list[str]) -> tuple[tuple[float, float], str]:
    """ImagerPixelSpacing at the breast for a magnification view (see
    ``defaults.MAGNIFICATION_VIEW_MIN_FACTOR``); a contact view keeps the detector's, with a note."""
    try:
        factor = float(ds.EstimatedRadiographicMagnificationFactor)
    except (TypeError, ValueError):
        raise PixelSizeError(f"{path.name}: EstimatedRadiographicMagnificationFactor "
                             f"{ds.EstimatedRadiographicMagnificationFactor!r} is not a number") from None
    if not np.isfinite(factor) or not 1.0 <= factor <= 4.0:
        raise PixelSizeError(f"{path.name}: EstimatedRadiographicMagnificationFactor {factor:g} is not a "
                             "magnification (1 to 4)")
    if factor < MAGNIFICATION_VIEW_MIN_FACTOR:
        assumptions.append("ImagerPixelSpacing is measured at the detector; sizes are not corrected for "
                           f"magnification (factor {factor:g})")
        return spacing, "ImagerPixelSpacing"
    corrected = (spacing[0] / factor, spacing[1] / factor)
    assumptions.append(f"a magnification view (EstimatedRadiographicMagnificationFactor {factor:g}): pixel size at "
                       f"the breast {corrected[0]:.4g} x {corrected[1]:.4g} mm (ImagerPixelSpacing / factor), used "
                       "for sizes and for resampling")
    return corrected, "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor"


def _dicom_spacing(path: Path, ds: Any) -> tuple[tuple[float, float] | None, str]:
    """The first pixel-size tag present (PixelSpacing, then ImagerPixelSpacing), as (row, col) mm.

    A tag that is present but unreadable is an error, not skipped: a corrupt header must not
    silently fall back to another value."""
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        if tag not in ds or ds.get(tag) in (None, ""):
            continue
        value = ds.get(tag)
        try:
            row_mm, col_mm = float(value[0]), float(value[1])
            if len(value) != 2:
                raise ValueError
        except (TypeError, ValueError, IndexError):
            raise PixelSizeError(f"{path.name}: {tag} {value!r} is not two numbers (row, column) in mm") from None
        return (row_mm, col_mm), tag
    return None, "fallback"


# --- Other formats --------------------------------------------------------------------


def _read_raster(path: Path) -> Mammogram:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            dpi = img.info.get("dpi")
            mode = img.mode
            _check_pixel_count(path, img.height, img.width)
            if mode in ("RGB", "RGBA", "P", "LA", "CMYK"):
                arr = np.asarray(img.convert("RGB"))
                if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2])):
                    raise NotAMammogramError(f"{path.name}: colour image; a mammogram is greyscale")
                arr = arr[..., 0]
            else:
                arr = np.asarray(img)
    except UnidentifiedImageError as exc:
        raise UnreadableImageError(f"{path.name}: not a readable image ({exc})") from exc
    except OSError as exc:
        raise UnreadableImageError(f"{path.name}: cannot be read ({exc})") from exc
    if arr.ndim != 2:
        raise NotAMammogramError(f"{path.name}: image has shape {arr.shape}, not 2D greyscale")
    assumptions = []
    if arr.dtype == np.uint8:
        assumptions.append("8-bit image: only 256 grey levels, faint calcifications may be lost")
    mammo = Mammogram(pixels=arr.astype(np.float32), spacing_mm=(0.0, 0.0), spacing_source="fallback",
                      path=str(path), assumptions=assumptions)
    if dpi and dpi[0] and dpi[1] and round(dpi[0]) != 72:  # 72 dpi is a writer default, not a pixel size
        from_dpi = (25.4 / float(dpi[1]), 25.4 / float(dpi[0]))
        if all(MIN_PIXEL_SIZE_MM <= v <= MAX_PIXEL_SIZE_MM for v in from_dpi):
            mammo.spacing_mm, mammo.spacing_source = from_dpi, "resolution tag"
        else:  # a screen or print resolution, not the pixel size of the mammogram
            assumptions.append(f"resolution tag of {float(dpi[0]):g} dpi ignored: not a mammogram pixel size")
    _attach_itk_geometry(mammo, path)
    return mammo


def _read_itk(path: Path) -> Mammogram:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise UnreadableImageError(f"{path.name}: cannot be read ({str(exc).strip().splitlines()[-1]})") from exc
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise NotAMammogramError(f"{path.name}: multi-component image; a mammogram is greyscale")
    size = image.GetSize()
    if image.GetDimension() == 3:
        if size[2] != 1:
            raise NotAMammogramError(f"{path.name}: a 3D volume of {size[2]} slices; expected one 2D image")
        image = image[:, :, 0]
    elif image.GetDimension() != 2:
        raise NotAMammogramError(f"{path.name}: {image.GetDimension()}D image; expected 2D")
    arr = sitk.GetArrayFromImage(image).astype(np.float32)
    sx, sy = image.GetSpacing()
    return Mammogram(
        pixels=arr,
        spacing_mm=(float(sy), float(sx)),
        spacing_source="header",
        path=str(path),
        itk_spacing=(float(sx), float(sy)),
        itk_origin=tuple(float(v) for v in image.GetOrigin()),  # type: ignore[arg-type]
        itk_direction=tuple(float(v) for v in image.GetDirection()),  # type: ignore[arg-type]
    )


def _attach_itk_geometry(mammo: Mammogram, path: Path) -> None:
    """Copy the geometry ITK reports for the file (what Slicer shows)."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        mammo.assumptions.append("ITK cannot read this file's geometry: labels use spacing 1 mm, origin 0")
        return
    spacing, origin, direction = reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection()
    dim = reader.GetDimension()
    mammo.itk_spacing = (float(spacing[0]), float(spacing[1]))
    mammo.itk_origin = (float(origin[0]), float(origin[1]))
    mammo.itk_direction = (
        float(direction[0]), float(direction[1]), float(direction[dim]), float(direction[dim + 1])
    )


# --- Checks -----------------------------------------------------------------------


def _pair(value: float | tuple[float, float] | list[float]) -> tuple[float, float]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"spacing_mm needs one or two values, not {value}")
        return float(value[0]), float(value[1])
    return float(value), float(value)


def _check_pixel_size(name: str, spacing_mm: tuple[float, float], what: str, hint: str = "") -> None:
    """One rule for every pixel size the measurements use: finite and within a mammogram's range."""
    ok = all(np.isfinite(v) and MIN_PIXEL_SIZE_MM <= v <= MAX_PIXEL_SIZE_MM for v in spacing_mm)
    if not ok:
        shown = " x ".join(f"{v:g}" for v in spacing_mm)
        raise PixelSizeError(
            f"{name}: {what} {shown} mm is not a mammogram pixel size (expected {MIN_PIXEL_SIZE_MM:g}-"
            f"{MAX_PIXEL_SIZE_MM:g} mm){hint}"
        )


def _check_label_geometry(mammo: Mammogram) -> None:
    """The geometry every label copies must be writable: finite, positive spacing, finite origin."""
    name = Path(mammo.path).name
    if not all(np.isfinite(v) and v > 0 for v in mammo.itk_spacing):
        raise PixelSizeError(
            f"{name}: ITK (and so 3D Slicer) reads a pixel spacing of "
            f"{' x '.join(f'{v:g}' for v in mammo.itk_spacing)} mm from this file, so no label could be "
            "written that overlays it: the file's spacing tags are corrupt"
        )
    if not all(np.isfinite(v) for v in (*mammo.itk_origin, *mammo.itk_direction)):
        raise UnreadableImageError(f"{name}: the file's image position or orientation is not finite")


def _check_pixel_count(path: Path, rows: int, cols: int) -> None:
    if rows * cols > MAX_PIXELS:
        raise ImageSizeError(
            f"{path.name}: {rows} x {cols} pixels exceeds the limit of {MAX_PIXELS:,} pixels"
        )


def _check_size(mammo: Mammogram) -> None:
    rows, cols = mammo.shape
    name = Path(mammo.path).name
    if min(rows, cols) < MIN_SIDE_PX:
        raise ImageSizeError(f"{name}: {rows} x {cols} pixels is too small (each side needs >= {MIN_SIDE_PX})")
    extent_mm = max(rows * mammo.spacing_mm[0], cols * mammo.spacing_mm[1])
    if extent_mm > MAX_SIDE_MM:
        raise ImageSizeError(
            f"{name}: {rows} x {cols} pixels at {mammo.spacing_mm[0]:g} mm is {extent_mm:.0f} mm across, "
            f"larger than any mammogram (> {MAX_SIDE_MM:g} mm): check the pixel size"
        )
    if not np.isfinite(mammo.pixels).all():
        raise UnreadableImageError(f"{name}: pixel data holds NaN or infinite values")

"""Reading mammograms: spacing tags, fallbacks, MONOCHROME1, real film, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import CBIS_DICOM
from PIL import Image

from mcseg.io import ImageSizeError, NotAMammogramError, PixelSizeError, UnreadableImageError, read_mammogram
from mcseg.io.dicom_write import write_mammogram_dicom


def _ramp(rows=200, cols=150):
    return (np.arange(rows * cols).reshape(rows, cols) % 3000 + 500).astype(np.uint16)


@pytest.mark.parametrize(
    "tag, expected_source",
    [("ImagerPixelSpacing", "ImagerPixelSpacing"), ("PixelSpacing", "PixelSpacing"), ("both", "PixelSpacing")],
)
def test_each_spacing_tag(tmp_path, tag, expected_source):
    path = write_mammogram_dicom(tmp_path / "a.dcm", _ramp(), spacing_mm=(0.07, 0.065), spacing_tag=tag)
    m = read_mammogram(path)
    assert m.spacing_mm == pytest.approx((0.07, 0.065))
    assert m.spacing_source == expected_source
    assert m.assumptions == []


@pytest.mark.parametrize("modality", ["MG", "DX", "CR", "OT"])
def test_modalities_read_as_mammograms(tmp_path, modality):
    path = write_mammogram_dicom(tmp_path / "a.dcm", _ramp(), spacing_mm=(0.1, 0.1), modality=modality)
    assert read_mammogram(path).modality == modality


def test_itk_geometry_is_what_slicer_sees(tmp_path):
    # For MG, ITK/GDCM (and so Slicer) takes ImagerPixelSpacing and ignores PixelSpacing, in
    # (column, row) order; labels must copy that view to overlay, measurements use PixelSpacing.
    import pydicom

    path = write_mammogram_dicom(tmp_path / "a.dcm", _ramp(), spacing_mm=(0.05, 0.05), spacing_tag="both")
    ds = pydicom.dcmread(path)
    ds.ImagerPixelSpacing = [0.06, 0.065]  # row, column
    ds.save_as(path)
    m = read_mammogram(path)
    assert m.itk_spacing == pytest.approx((0.065, 0.06))
    assert m.itk_origin == (0.0, 0.0) and m.itk_direction == (1.0, 0.0, 0.0, 1.0)
    assert m.spacing_mm == pytest.approx((0.05, 0.05)) and m.spacing_source == "PixelSpacing"


def test_missing_spacing_uses_fallback_and_says_so(tmp_path):
    path = write_mammogram_dicom(tmp_path / "a.dcm", _ramp(), spacing_mm=None, spacing_tag="none")
    m = read_mammogram(path, fallback_spacing_mm=0.05)
    assert m.spacing_mm == (0.05, 0.05)
    assert m.spacing_source == "fallback"
    assert any("no pixel size" in a for a in m.assumptions)
    given = read_mammogram(path, spacing_mm=0.1)
    assert given.spacing_mm == (0.1, 0.1) and given.spacing_source == "user"


def test_monochrome1_is_inverted(tmp_path):
    pixels = _ramp()
    pixels[50, 60] = 3900  # brightest in MONOCHROME2 sense ...
    inverted = (4095 - pixels).astype(np.uint16)  # ... stored as the darkest value in MONOCHROME1
    path = write_mammogram_dicom(tmp_path / "m1.dcm", inverted, spacing_mm=(0.07, 0.07), photometric="MONOCHROME1")
    m = read_mammogram(path)
    assert m.inverted
    assert np.unravel_index(np.argmax(m.pixels), m.shape) == (50, 60)
    assert any("MONOCHROME1" in a for a in m.assumptions)


def test_rescale_slope_and_intercept_applied(tmp_path):
    path = write_mammogram_dicom(tmp_path / "r.dcm", _ramp(), spacing_mm=(0.07, 0.07), rescale_slope=2.0,
                                 rescale_intercept=-100.0)
    m = read_mammogram(path)
    assert m.pixels[0, 0] == pytest.approx(2.0 * 500 - 100)


def test_real_cbis_ddsm_file():
    m = read_mammogram(CBIS_DICOM)
    assert m.shape == (4688, 2592)
    assert m.modality == "MG" and m.spacing_source == "fallback"
    assert m.itk_spacing == (1.0, 1.0)  # a Secondary Capture: ITK/Slicer show 1 mm
    assert m.pixels.dtype == np.float32 and m.pixels.max() > 10000


def test_other_modality_is_rejected(tmp_path):
    path = write_mammogram_dicom(tmp_path / "ct.dcm", _ramp(), spacing_mm=(0.5, 0.5), modality="CT")
    with pytest.raises(NotAMammogramError, match="CT"):
        read_mammogram(path)


def test_corrupt_and_non_image_files(tmp_path):
    good = write_mammogram_dicom(tmp_path / "a.dcm", _ramp(), spacing_mm=(0.07, 0.07))
    truncated = tmp_path / "cut.dcm"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(UnreadableImageError):
        read_mammogram(truncated)
    text = tmp_path / "notes.dcm"
    text.write_text("not a dicom")
    with pytest.raises(UnreadableImageError):
        read_mammogram(text)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(UnreadableImageError, match="unknown image format"):
        read_mammogram(tmp_path / "x.txt")


def test_eight_bit_png_and_colour_png(tmp_path):
    grey = (np.arange(200 * 150).reshape(200, 150) % 256).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.png")
    m = read_mammogram(tmp_path / "g.png", spacing_mm=0.2)
    assert m.spacing_mm == (0.2, 0.2) and any("8-bit" in a for a in m.assumptions)
    rgb = np.stack([grey, grey[::-1], grey], -1)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    with pytest.raises(NotAMammogramError, match="colour"):
        read_mammogram(tmp_path / "c.png")


def test_tiny_and_implausible_images(tmp_path):
    path = write_mammogram_dicom(tmp_path / "t.dcm", _ramp(30, 30), spacing_mm=(0.07, 0.07))
    with pytest.raises(ImageSizeError, match="too small"):
        read_mammogram(path)
    big = write_mammogram_dicom(tmp_path / "b.dcm", _ramp(1600, 1600), spacing_mm=(0.4, 0.4))
    with pytest.raises(ImageSizeError, match="640 mm across"):
        read_mammogram(big)


@pytest.mark.parametrize("value", ["-0.1", "1e-9", "5", "nan", "0"])
def test_impossible_pixel_sizes_are_refused_at_read_time(tmp_path, value):
    import pydicom

    path = write_mammogram_dicom(tmp_path / "a.dcm", _ramp(), spacing_mm=(0.07, 0.07), spacing_tag="PixelSpacing")
    ds = pydicom.dcmread(path)
    ds.PixelSpacing = [value, value]
    ds.save_as(path)
    with pytest.raises(PixelSizeError, match="PixelSpacing|ITK"):
        read_mammogram(path)


def test_a_given_pixel_size_is_checked_too(tmp_path):
    path = write_mammogram_dicom(tmp_path / "a.dcm", _ramp(), spacing_mm=None, spacing_tag="none")
    with pytest.raises(PixelSizeError, match="spacing_mm"):
        read_mammogram(path, spacing_mm=2.0)
    with pytest.raises(PixelSizeError):
        read_mammogram(path, spacing_mm=(0.07, -0.07))
    assert read_mammogram(path, spacing_mm=0.1).spacing_mm == (0.1, 0.1)


def test_pixel_data_that_do_not_match_the_header_are_corrupt(tmp_path):
    import pydicom

    path = write_mammogram_dicom(tmp_path / "a.dcm", _ramp(), spacing_mm=(0.07, 0.07))
    ds = pydicom.dcmread(path)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7  # 16-bit data labelled 8-bit
    ds.save_as(path)
    with pytest.raises(UnreadableImageError, match="need 30,000"):
        read_mammogram(path)
    ds = pydicom.dcmread(write_mammogram_dicom(tmp_path / "b.dcm", _ramp(), spacing_mm=(0.07, 0.07)))
    ds.PixelData = ds.PixelData[:-1000]
    ds.save_as(tmp_path / "b.dcm")
    with pytest.raises(UnreadableImageError, match="corrupt"):
        read_mammogram(tmp_path / "b.dcm")


@pytest.mark.parametrize("change, words", [
    ({"PhotometricInterpretation": "PALETTE COLOR"}, "PALETTE COLOR"),
    ({"PresentationIntentType": "FOR PROCESSING"}, "For Processing"),
    ({"ImageType": ["DERIVED", "PRIMARY", "TOMO"], "Modality": "CT"}, "tomosynthesis"),
    ({"BitsStored": 20}, "BitsStored"),
])
def test_header_values_a_mammogram_cannot_have(tmp_path, change, words):
    import pydicom

    path = write_mammogram_dicom(tmp_path / "a.dcm", _ramp(), spacing_mm=(0.07, 0.07))
    ds = pydicom.dcmread(path)
    for key, value in change.items():
        setattr(ds, key, value)
    ds.save_as(path)
    with pytest.raises((NotAMammogramError, UnreadableImageError), match=words):
        read_mammogram(path)


def test_nrrd_with_spacing(tmp_path):
    image = sitk.GetImageFromArray(_ramp().astype(np.float32))
    image.SetSpacing((0.08, 0.06))
    sitk.WriteImage(image, str(tmp_path / "a.nrrd"))
    m = read_mammogram(tmp_path / "a.nrrd")
    assert m.spacing_mm == pytest.approx((0.06, 0.08)) and m.spacing_source == "header"

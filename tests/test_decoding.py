"""Every transfer syntax a mammography archive sends, and the three real vendor FFDMs.

The compressed test files are made here: a synthetic 12-bit mammogram is
encoded with imagecodecs (libjpeg-turbo, CharLS, OpenJPEG) or pydicom (RLE,
deflate), and read back through mcseg's reader, which decodes with pydicom's
pylibjpeg plugins. Lossless syntaxes must give back the exact pixels.
"""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, JPEG2000, JPEG2000Lossless,
                         JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless,
                         RLELossless)

from mcseg.cli import main as cli_main
from mcseg.io import NotAMammogramError, read_mammogram
from mcseg.io.dicom_write import write_mammogram_dicom

VENDOR = Path(__file__).resolve().parent / "data" / "ffdm-vendor"
DATA = Path(__file__).resolve().parent.parent / "mcseg" / "data"


def _mammogram_like(rows=300, cols=240, bits=12) -> np.ndarray:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:rows, :cols]
    tissue = 1500 + 900 * np.exp(-((xx - 40) ** 2 + (yy - rows / 2) ** 2) / (2 * (cols / 2.5) ** 2))
    image = tissue + rng.normal(0, 25, (rows, cols))
    image[100:103, 120:123] += 600  # a calcification-like speck
    return np.clip(image, 0, 2**bits - 1).astype(np.uint16)


def _encoded(tmp_path: Path, syntax: str, pixels: np.ndarray) -> Path:
    path = write_mammogram_dicom(tmp_path / "plain.dcm", pixels, spacing_mm=(0.07, 0.07), bits_stored=12)
    ds = pydicom.dcmread(path)
    if syntax == RLELossless:
        ds.compress(RLELossless)
    elif syntax == DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = syntax
    elif syntax != ExplicitVRLittleEndian:
        frame = {
            JPEGLosslessSV1: lambda a: imagecodecs.jpeg8_encode(a, lossless=True, bitspersample=12),
            JPEGBaseline8Bit: lambda a: imagecodecs.jpeg8_encode((a >> 4).astype(np.uint8), level=95),
            JPEGExtended12Bit: lambda a: imagecodecs.jpeg8_encode(a, level=95, bitspersample=12),
            JPEGLSLossless: lambda a: imagecodecs.jpegls_encode(a),
            JPEGLSNearLossless: lambda a: imagecodecs.jpegls_encode(a, level=2),
            JPEG2000Lossless: lambda a: imagecodecs.jpeg2k_encode(a, level=0, codecformat="j2k", bitspersample=12),
            JPEG2000: lambda a: imagecodecs.jpeg2k_encode(a, level=80, codecformat="j2k", bitspersample=12),
        }[syntax](pixels)
        if syntax == JPEGBaseline8Bit:
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = syntax
    out = tmp_path / f"{syntax}.dcm"
    ds.save_as(out, write_like_original=False)
    assert pydicom.dcmread(out, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    return out


LOSSLESS = [ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, RLELossless, JPEGLosslessSV1, JPEGLSLossless,
            JPEG2000Lossless]
LOSSY = [(JPEGLSNearLossless, 2.5), (JPEGExtended12Bit, 40.0), (JPEG2000, 15.0)]


@pytest.mark.parametrize("syntax", LOSSLESS, ids=lambda s: s.name)
def test_lossless_syntaxes_give_back_the_exact_pixels(tmp_path, syntax):
    pixels = _mammogram_like()
    m = read_mammogram(_encoded(tmp_path, syntax, pixels))
    np.testing.assert_array_equal(m.pixels, pixels.astype(np.float32))
    assert m.spacing_mm == (0.07, 0.07)


@pytest.mark.parametrize("syntax, max_mean_error", LOSSY, ids=lambda s: getattr(s, "name", str(s)))
def test_lossy_syntaxes_decode_close_to_the_original(tmp_path, syntax, max_mean_error):
    pixels = _mammogram_like()
    m = read_mammogram(_encoded(tmp_path, syntax, pixels))
    assert m.shape == pixels.shape
    assert np.abs(m.pixels - pixels).mean() <= max_mean_error
    assert np.corrcoef(m.pixels.ravel(), pixels.ravel())[0, 1] > 0.99


def test_baseline_jpeg_is_read_as_an_8_bit_image(tmp_path):
    pixels = _mammogram_like()
    m = read_mammogram(_encoded(tmp_path, JPEGBaseline8Bit, pixels))
    assert m.shape == pixels.shape and m.pixels.max() <= 255
    assert np.corrcoef(m.pixels.ravel(), (pixels >> 4).ravel())[0, 1] > 0.99


def test_ge_senographe_jpeg_lossless_with_sigmoid_voi():
    m = read_mammogram(VENDOR / "GH133.dcm")
    assert m.shape == (3062, 2394)
    assert m.spacing_mm == pytest.approx((0.0941, 0.0941), abs=5e-5) and m.spacing_source == "ImagerPixelSpacing"
    assert m.laterality == "R" and m.modality == "MG"
    assert m.detector_type == "SCINTILLATOR" and m.digital_detector  # what routes it (defaults.NATIVE_ALONE_INPUTS)
    assert any("SIGMOID window, centre 2653, width 900" in a for a in m.assumptions)
    # The sigmoid maps into the 12-bit output range without clipping anything to a constant.
    assert 0 <= m.pixels.min() < 50 and 3500 < m.pixels.max() <= 4095
    assert len(np.unique(m.pixels[::7, ::7])) > 1000


def test_siemens_mammomat_jpeg_lossless():
    m = read_mammogram(VENDOR / "OutOfBoundsOverlay.dcm")
    assert m.shape == (788, 1318) and m.spacing_mm == (0.085, 0.085)
    assert m.laterality == "L" and m.detector_type == "DIRECT" and m.digital_detector
    assert any("LINEAR window, centre 2048, width 4096" in a for a in m.assumptions)
    assert any("magnification (factor 1.04334)" in a for a in m.assumptions)


def test_hologic_tomosynthesis_slice_is_refused_by_name():
    with pytest.raises(NotAMammogramError, match="tomosynthesis slice") as err:
        read_mammogram(VENDOR / "GH1376.dcm")
    assert "C-View" in str(err.value)


def test_vendor_files_segment_from_the_cli(tmp_path, capsys):
    """The Siemens file end to end (the GE one takes minutes here; the server test runs its detector)."""
    code = cli_main(["segment", str(VENDOR / "OutOfBoundsOverlay.dcm"), str(VENDOR / "GH1376.dcm"),
                     "-o", str(tmp_path), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2 and "GH1376.dcm: a breast tomosynthesis slice" in captured.err
    import json

    doc = json.loads((tmp_path / "OutOfBoundsOverlay.json").read_text())
    assert doc["spacing_mm"] == [0.085, 0.085] and doc["working_frame"]["flipped_left_right"] is False
    assert doc["shape"] == [788, 1318] and doc["input"]["laterality_tag"] == "L"
    assert any(c["in_mask"] for c in doc["calcifications"])
    # A digital detector's native 0.085 mm pixels: the native networks alone serve it, at 0.07 mm.
    assert doc["input"]["detector_type"] == "DIRECT" and doc["settings"]["use_candidate_classifier"] is False
    assert Path(doc["weights"]["segmentator"]["path"]).parent.name == "native"
    assert doc["working_frame"]["working_spacing_mm"][0] == pytest.approx(0.07, abs=0.002)


def test_digitised_film_names_no_digital_detector():
    """The CBIS-DDSM film (a Secondary Capture without DetectorType) is not routed as a detector image."""
    m = read_mammogram(DATA / "demo" / "cbis-ddsm_P_00820_RIGHT_CC.dcm")
    assert m.detector_type is None and not m.digital_detector

"""The result as DICOM objects (highdicom), read back with pydicom as a PACS viewer would."""

from __future__ import annotations

import json

import highdicom as hd
import numpy as np
import pydicom
import pytest
from conftest import DATA, VENDOR

from mcseg.io.dicom_objects import OHIF_DEFAULT_ORIENTATION, calcification_report, calcification_segmentation

RESULT = {"spacing_mm": [0.085, 0.085],
          "calcifications": [{"id": 1, "centroid_px": [101.0, 201.5], "area_mm2": 0.06, "score": 0.93, "in_mask": True},
                             {"id": 2, "centroid_px": [300.0, 400.0], "area_mm2": 0.02, "score": 0.2, "in_mask": False}],
          "clusters": [{"id": 1, "members": [1, 3, 4, 5, 6, 7], "bbox_px": [90, 190, 120, 230]}]}


@pytest.mark.parametrize("source", [VENDOR / "OutOfBoundsOverlay.dcm", DATA / "demo" / "demo_synthetic_0000.dcm"])
def test_segmentation_references_its_image_and_keeps_the_mask(tmp_path, source):
    ds = pydicom.dcmread(source)
    mask = np.zeros((ds.Rows, ds.Columns), np.uint8)
    mask[100:103, 200:204] = 1
    mask[5, 7] = 1
    calcification_segmentation(mask, ds).save_as(tmp_path / "seg.dcm")
    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    assert seg.Modality == "SEG" and (seg.Rows, seg.Columns) == (ds.Rows, ds.Columns)
    assert seg.StudyInstanceUID == ds.StudyInstanceUID and seg.PatientID == ds.PatientID
    assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
    assert np.array_equal(seg.pixel_array.reshape(mask.shape), mask)
    assert seg.SegmentSequence[0].SegmentLabel == "calcification"
    # A display colour (red), read back as a viewer reads it: CIELab encoded in 0..65535.
    lab = [int(v) for v in seg.SegmentSequence[0].RecommendedDisplayCIELabValue]
    assert lab == [34890, 53479, 50166]
    if "PixelSpacing" in ds:  # the geometry the source states is carried over (MG files often state none)
        measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
        assert [float(v) for v in measures.PixelSpacing] == [float(v) for v in ds.PixelSpacing]
    with pytest.raises(ValueError, match="does not match"):
        calcification_segmentation(mask[:-1], ds)


def test_segmentation_of_a_projection_image_carries_the_orientation_ohif_assumes(tmp_path):
    ds = pydicom.dcmread(DATA / "demo" / "demo_synthetic_0000.dcm")
    assert "ImageOrientationPatient" not in ds  # as most mammograms: no Image Plane module
    seg = calcification_segmentation(np.zeros((ds.Rows, ds.Columns), np.uint8), ds)
    shared = seg.SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient] == OHIF_DEFAULT_ORIENTATION
    # A source that states its orientation keeps it (highdicom copies it; nothing is invented).
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, 0]
    ds.FrameOfReferenceUID = pydicom.uid.generate_uid()
    ds.PixelSpacing = [0.07, 0.07]
    ds.SliceThickness = 1
    shared = calcification_segmentation(np.zeros((ds.Rows, ds.Columns), np.uint8), ds).SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]


def test_report_lists_the_calcifications_in_the_mask_and_the_clusters(tmp_path):
    ds = pydicom.dcmread(VENDOR / "OutOfBoundsOverlay.dcm")
    calcification_report(RESULT, ds).save_as(tmp_path / "sr.dcm")
    sr = pydicom.dcmread(tmp_path / "sr.dcm")
    assert sr.Modality == "SR" and sr.StudyInstanceUID == ds.StudyInstanceUID
    text = json.dumps(sr.to_json_dict())
    assert text.count("Individual Calcification") == 1  # only the one in the mask
    assert text.count("Calcification Cluster") == 1 and text.count("Number of calcifications") == 1
    groups = hd.sr.ComprehensiveSR.from_dataset(sr).content.get_planar_roi_measurement_groups()
    areas = [m.value for g in groups for m in g.get_measurements(name=pydicom.sr.codedict.codes.SCT.Area)]
    assert [float(a) for a in areas] == pytest.approx([0.06])

"""Results as DICOM objects a PACS stores and its viewers show: a Segmentation and a measurement report.

* :func:`calcification_segmentation`: the mask as a DICOM Segmentation (binary, one segment per
  label name, coded as SNOMED CT "Individual Calcification" in the category "Morphologically
  Abnormal Structure"), referencing its source image and taking its geometry from it.
* :func:`calcification_report`: the calcifications and clusters as a Comprehensive SR with a TID 1500
  Measurement Report: one planar ROI per calcification (a circle of its area at its centroid, with
  the area in mm2 and the model's score) and one per cluster (its bounding box, with the number of
  calcifications), each referencing the source image.

Both are built with highdicom, the reference implementation of these IODs, not by hand.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pydicom

from mcseg import __version__

#: Label value -> segment label written into the SEG (the same names as the NRRD's segments).
SEGMENT_LABELS = {1: "calcification"}
MANUFACTURER = "mcseg (open-source research software, not for clinical use)"
#: The orientation OHIF's metadata provider gives an image without ImageOrientationPatient
#: (OHIF 3.10, the viewer the monailabel wheel ships); its SEG loader compares the two.
OHIF_DEFAULT_ORIENTATION = [0, 1, 0, 0, 0, -1]
#: Every segment's RecommendedDisplayCIELabValue: sRGB red (L*a*b* 53.24, 80.09, 67.20), the colour the
#: app's previews outline calcifications in. Without one OHIF warns on every SEG it opens
#: and picks a colour of its own.
SEGMENT_COLOUR_LAB = (53.24, 80.09, 67.20)


def _codes():
    from pydicom.sr.codedict import codes

    return codes


def _algorithm():
    import highdicom as hd

    return hd.AlgorithmIdentificationSequence(name="mcseg two-stage CNN (Valvano et al. 2019)", version=__version__,
                                              family=_codes().cid7162.ArtificialIntelligence)


def calcification_segmentation(mask: np.ndarray, source: pydicom.Dataset, series_number: int = 9001,
                               labels: dict[int, str] | None = None):
    """A highdicom Segmentation of ``mask`` (the source image's rows x columns, label values)."""
    import highdicom as hd

    codes = _codes()
    labels = labels or SEGMENT_LABELS
    mask = np.asarray(mask)
    if mask.shape != (int(source.Rows), int(source.Columns)):
        raise ValueError(f"mask {mask.shape} does not match the image's {int(source.Rows)} x {int(source.Columns)}")
    descriptions = [hd.seg.SegmentDescription(
        segment_number=value, segment_label=name,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.IndividualCalcification,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=_algorithm())
        for value, name in sorted(labels.items())]
    for description in descriptions:
        description.RecommendedDisplayCIELabValue = list(hd.color.CIELabColor(*SEGMENT_COLOUR_LAB).value)
    # One frame per segment (binary): highdicom takes a label map with values 1..n as well.
    pixel_array = np.where(np.isin(mask, list(labels)), mask, 0).astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=[source], pixel_array=pixel_array, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=series_number,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER, manufacturer_model_name="mcseg",
        software_versions=__version__, device_serial_number="none", series_description="mcseg calcifications",
        omit_empty_frames=False)
    shared = seg.SharedFunctionalGroupsSequence[0]
    if "ImageOrientationPatient" not in source and "PlaneOrientationSequence" not in shared:
        # A projection image without an Image Plane module (most mammograms): highdicom writes no
        # plane orientation, and OHIF's SEG loader stops on the missing attribute. Give it the
        # orientation OHIF (cornerstone) assumes for such a source image, so the two agree; the
        # frames are still placed by their reference to the source image, not by coordinates.
        orientation = pydicom.Dataset()
        orientation.ImageOrientationPatient = OHIF_DEFAULT_ORIENTATION
        shared.PlaneOrientationSequence = [orientation]
    return seg


def _circle(centroid_px: list[float], area_px: float) -> np.ndarray:
    # SCOORD pixel coordinates are (column, row) with the top-left corner of the image at (0, 0).
    row, col = centroid_px
    radius = max(math.sqrt(max(area_px, 1.0) / math.pi), 0.5)
    return np.array([[col + 0.5, row + 0.5], [col + 0.5 + radius, row + 0.5]], dtype=np.float32)


def _box(bbox_px: list[int]) -> np.ndarray:
    r0, c0, r1, c1 = bbox_px
    return np.array([[c0, r0], [c1, r0], [c1, r1], [c0, r1], [c0, r0]], dtype=np.float32)


def calcification_report(result: dict[str, Any], source: pydicom.Dataset, series_number: int = 9002,
                         in_mask_only: bool = True):
    """A highdicom Comprehensive SR (TID 1500) of a result in the output contract's JSON form."""
    import highdicom as hd
    from highdicom.sr import (ComprehensiveSR, DeviceObserverIdentifyingAttributes, GraphicTypeValues, ImageRegion,
                              Measurement, MeasurementReport, ObservationContext, ObserverContext,
                              PlanarROIMeasurementsAndQualitativeEvaluations, SourceImageForRegion,
                              TrackingIdentifier)

    codes = _codes()
    row_mm, col_mm = result["spacing_mm"]
    source_image = SourceImageForRegion.from_source_image(source)
    groups = []
    for calc in result["calcifications"]:
        if in_mask_only and not calc["in_mask"]:
            continue
        area_px = calc["area_mm2"] / (row_mm * col_mm)
        groups.append(PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=TrackingIdentifier(uid=hd.UID(), identifier=f"calcification {calc['id']}"),
            referenced_region=ImageRegion(graphic_type=GraphicTypeValues.CIRCLE,
                                          graphic_data=_circle(calc["centroid_px"], area_px),
                                          source_image=source_image),
            finding_type=codes.SCT.IndividualCalcification,
            algorithm_id=_algorithm_id(),
            measurements=[Measurement(name=codes.SCT.Area, value=float(calc["area_mm2"]),
                                      unit=codes.UCUM.SquareMillimeter, algorithm_id=_algorithm_id()),
                          Measurement(name=codes.DCM.CertaintyOfFinding, value=float(calc["score"]),
                                      unit=hd.sr.CodedConcept("1", "UCUM", "no units"), algorithm_id=_algorithm_id())]))
    for cluster in result["clusters"]:
        groups.append(PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=TrackingIdentifier(uid=hd.UID(), identifier=f"cluster {cluster['id']}"),
            referenced_region=ImageRegion(graphic_type=GraphicTypeValues.POLYLINE, graphic_data=_box(cluster["bbox_px"]),
                                          source_image=source_image),
            finding_type=codes.SCT.CalcificationCluster,
            algorithm_id=_algorithm_id(),
            measurements=[Measurement(name=codes.DCM.NumberOfCalcifications, value=len(cluster["members"]),
                                      unit=hd.sr.CodedConcept("{calcifications}", "UCUM", "calcifications"),
                                      algorithm_id=_algorithm_id())]))
    observer = ObserverContext(observer_type=codes.DCM.Device,
                               observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
                                   uid=hd.UID(), name="mcseg", manufacturer_name=MANUFACTURER,
                                   model_name="mcseg", serial_number="none"))
    report = MeasurementReport(observation_context=ObservationContext(observer_device_context=observer),
                               procedure_reported=hd.sr.CodedConcept("71651007", "SCT", "Mammography"),
                               imaging_measurements=groups or None)
    return ComprehensiveSR(evidence=[source], content=report, series_instance_uid=hd.UID(),
                           series_number=series_number, sop_instance_uid=hd.UID(), instance_number=1,
                           manufacturer=MANUFACTURER, series_description="mcseg calcifications and clusters",
                           is_complete=True)


def _algorithm_id():
    from highdicom.sr import AlgorithmIdentification

    return AlgorithmIdentification(name="mcseg", version=__version__)

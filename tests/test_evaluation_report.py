"""Evaluation metrics on hand-made cases with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from mcseg.cli import main as cli
from mcseg.evaluation import (FrocCurve, TruthCluster, aufroc, match_clusters, read_mias_info, read_truth_json,
                              truth_from_mask)
from mcseg.evaluation.report import Prediction, evaluate

SPACING = (0.1, 0.1)


def _truth(points, shape=(200, 200)):
    mask = np.zeros(shape, bool)
    for r, c in points:
        mask[r - 1 : r + 2, c - 1 : c + 2] = True  # 3 x 3 px = 0.3 mm calcifications
    return truth_from_mask("img", mask, SPACING)


def _pred(stem, calcs, clusters=(), shape=(200, 200)):
    doc = {"image": f"{stem}.dcm", "shape": list(shape), "spacing_mm": list(SPACING), "seconds": 1.0,
           "calcifications": [{"id": i + 1, "centroid_px": list(p), "score": s, "in_mask": s >= 0.5}
                              for i, (p, s) in enumerate(calcs)],
           "clusters": [{"id": i + 1, "centroid_px": list(p), "score": s} for i, (p, s) in enumerate(clusters)]}
    return Prediction(stem, doc, None)


def test_perfect_prediction():
    truth = _truth([(50, 50), (100, 120), (150, 60)])
    pred = _pred("img", [((50, 50), 0.9), ((100, 120), 0.8), ((150, 60), 0.7)])
    summary, _ = evaluate([pred], {"img": truth}, n_boot=50)
    calc = summary["calcification"]
    assert calc["truth"] == 3
    assert all(v == 1.0 for v in calc["sensitivity_at_fppi"].values())
    assert calc["aufroc_0_50"] == 1.0
    assert calc["operating_point"] == {"sensitivity": 1.0, "fppi": 0.0}


def test_shift_within_and_beyond_the_hit_rule():
    truth = _truth([(50, 50), (100, 100)])
    # 0.4 mm off: within 0.5 mm of the centre. 0.7 mm off: beyond 0.5 mm and beyond the
    # calcification (edge at 0.1 mm) dilated by 0.25 mm.
    pred = _pred("img", [((54, 50), 0.9), ((100, 107), 0.8)])
    summary, _ = evaluate([pred], {"img": truth}, n_boot=0)
    assert summary["calcification"]["sensitivity_at_fppi"]["4"] == 0.5
    assert summary["calcification"]["operating_point"] == {"sensitivity": 0.5, "fppi": 1.0}


def test_extra_false_positive_and_unmatched_truth():
    truths = {"a": _truth([(50, 50), (150, 150)]), "b": _truth([(60, 60)])}
    preds = [_pred("a", [((50, 50), 0.9), ((10, 190), 0.95)]),   # one hit, one FP scored above it
             _pred("b", [((60, 60), 0.8)])]
    summary, curves = evaluate(preds, truths, n_boot=0)
    sens = summary["calcification"]["sensitivity_at_fppi"]
    # The FP (0.95) comes first: 0.5 FP/image before any hit; then both hits; (150,150) never found.
    assert sens["0.25"] == 0.0 and sens["0.5"] == pytest.approx(2 / 3, abs=1e-3)
    assert curves["calcification"].n_truth == 3
    assert summary["calcification"]["operating_point"]["fppi"] == 0.5


def test_a_set_of_negatives_only():
    preds = [_pred("n1", [((20, 20), 0.9), ((40, 40), 0.3)]), _pred("n2", [])]
    summary, _ = evaluate(preds, {"n1": None, "n2": None}, n_boot=0)
    calc = summary["calcification"]
    assert calc["truth"] == 0 and summary["negative_images"] == 2
    assert calc["fppi_at_operating_point"] == 0.5 and calc["fppi_all_candidates"] == 1.0
    assert summary["cluster"]["truth"] == 0


def test_each_truth_is_matched_once_greedily_by_score():
    truth = _truth([(100, 100)])
    pred = _pred("img", [((100, 101), 0.6), ((101, 100), 0.9)])
    summary, _ = evaluate([pred], {"img": truth}, n_boot=0)
    assert summary["calcification"]["operating_point"] == {"sensitivity": 1.0, "fppi": 1.0}


def test_aufroc_known_area():
    # sensitivity 0.5 from 0 FP/image, 1.0 from 25 FP/image: (0.5*25 + 1.0*25) / 50
    curve = FrocCurve(np.array([np.inf, 0.9, 0.1]), np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.0, 25.0]), 1, 2)
    assert aufroc(curve) == pytest.approx(0.75)


def test_cluster_rules():
    contour = np.array([[0, 0], [0, 100], [100, 100], [100, 0]], float)   # 10 x 10 mm square
    clusters = [TruthCluster((50, 50), contour_px=contour), TruthCluster((300, 300), radius_px=20),
                TruthCluster((500, 500))]
    # 1.5 mm outside the square (hit), 2.5 mm beyond the 2 mm circle (more than its 2 mm dilation: miss),
    # 4.5 mm from a centre-only cluster (hit), and far away (miss).
    pred = [(50, 115), (300, 345), (545, 500), (900, 900)]
    m = match_clusters(pred, [0.9, 0.8, 0.7, 0.6], clusters, SPACING, n_unlocated=1)
    assert m.hits.tolist() == [True, False, True, False]
    assert m.n_truth == 4


def test_mini_mias_rows_flip_y(tmp_path):
    info = tmp_path / "Info.txt"
    info.write_text("mdb001 G CIRC B 535 425 197\nmdb003 D NORM \nmdb211 G CALC M 680 327 13\n"
                    "mdb216 D CALC M *NOTE 3* \n")
    truths = read_mias_info(info)
    assert set(truths) == {"mdb001", "mdb003", "mdb211", "mdb216"}
    assert truths["mdb001"].clusters == [] and truths["mdb003"].clusters == []  # a mass is not a CALC cluster
    (cl,) = truths["mdb211"].clusters
    assert cl.centre_px == (1024 - 327, 680) and cl.radius_px == 13
    assert truths["mdb216"].unlocated_clusters == 1 and not truths["mdb216"].calcifications_annotated
    flipped = match_clusters([(697, 680)], [0.9], truths["mdb211"].clusters, (0.2, 0.2))
    unflipped = match_clusters([(327, 680)], [0.9], truths["mdb211"].clusters, (0.2, 0.2))
    assert flipped.hits.tolist() == [True] and unflipped.hits.tolist() == [False]


def test_json_truth_with_contours(tmp_path):
    doc = {"shape": [200, 200], "spacing_mm": [0.1, 0.1],
           "calcifications": [{"centroid_px": [50, 50], "contour_px": [[40, 40], [40, 60], [60, 60], [60, 40]]},
                              {"centroid_px": [150, 150]}],
           "clusters": [{"centre_px": [100, 100], "radius_mm": 8.0}]}
    (tmp_path / "x.gt.json").write_text(json.dumps(doc))
    truth = read_truth_json(tmp_path / "x.gt.json")
    assert truth.n_calcifications == 2 and truth.regions[50, 50] == 1 and truth.regions[150, 150] == 0
    assert truth.clusters[0].radius_px == pytest.approx(80)
    # 0.9 mm from the first centre but inside its outline: a hit by the contour rule.
    summary, _ = evaluate([_pred("x", [((50, 59), 0.9)])], {"x": truth}, n_boot=0)
    assert summary["calcification"]["operating_point"]["sensitivity"] == 0.5


def test_ignore_circles_take_out_false_positives_on_real_findings_but_keep_hits(tmp_path):
    """A background's own calcifications (ignore circles) are neither hits nor false positives: a
    detection there drops out, one on a listed calcification inside a circle still hits, one outside
    every circle still counts as a false positive; likewise a predicted cluster."""
    doc = {"shape": [200, 200], "spacing_mm": list(SPACING),
           "calcifications": [{"centroid_px": [50, 50]}, {"centroid_px": [150, 150]}],
           "ignore": [{"centre_px": [50, 60], "radius_mm": 1.5}, {"centre_px": [120, 30], "radius_px": 10}]}
    (tmp_path / "x.gt.json").write_text(json.dumps(doc))
    truth = read_truth_json(tmp_path / "x.gt.json")
    assert [c.radius_px for c in truth.ignore] == pytest.approx([15, 10])
    calcs = [((50, 50), 0.8),     # a hit, inside the first circle
             ((50, 62), 0.99),    # a real finding: ignored
             ((121, 33), 0.98),   # a real finding: ignored
             ((10, 190), 0.7)]    # a false positive
    clusters = [((52, 60), 0.9), ((180, 20), 0.8)]
    summary, _ = evaluate([_pred("x", calcs, clusters)], {"x": truth}, n_boot=0)
    assert summary["ignored"] == {"detections": 2, "clusters": 1}
    calc = summary["calcification"]
    assert calc["operating_point"] == {"sensitivity": 0.5, "fppi": 1.0}
    assert calc["sensitivity_at_fppi"]["0.25"] == 0.5   # the two 0.98-0.99 ones no longer rank first
    assert summary["cluster"]["fppi_all_predicted"] == 1.0
    # Without the circles the same detections score as before: three false positives.
    del doc["ignore"]
    (tmp_path / "x.gt.json").write_text(json.dumps(doc))
    summary, _ = evaluate([_pred("x", calcs, clusters)], {"x": read_truth_json(tmp_path / "x.gt.json")}, n_boot=0)
    assert summary["calcification"]["operating_point"] == {"sensitivity": 0.5, "fppi": 3.0}
    assert summary["calcification"]["sensitivity_at_fppi"]["0.25"] == 0.0 and "ignored" not in summary


def test_evaluate_command_writes_report(tmp_path):
    pred_dir, truth_dir = tmp_path / "pred", tmp_path / "truth"
    pred_dir.mkdir()
    truth_dir.mkdir()
    truth = _truth([(50, 50), (120, 80)])
    image = sitk.GetImageFromArray(truth.mask.astype(np.uint8))
    image.SetSpacing(SPACING)
    sitk.WriteImage(image, str(truth_dir / "a.gt.nrrd"))
    sitk.WriteImage(image, str(pred_dir / "a.mask.nrrd"))
    (pred_dir / "a.json").write_text(json.dumps(_pred("a", [((50, 50), 0.9), ((120, 80), 0.8)]).document))
    (pred_dir / "b.json").write_text(json.dumps(_pred("b", [((30, 30), 0.7)]).document))
    assert cli(["evaluate", str(pred_dir), "--truth", str(truth_dir), "-o", str(tmp_path / "r")]) == 2  # b has no truth
    assert cli(["evaluate", str(pred_dir), "--truth", str(truth_dir), "--negatives-without-truth", "--bootstrap", "20",
                "-o", str(tmp_path / "r")]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["overlap"]["dice_set"] == 1.0 and summary["negative_images"] == 1
    assert summary["calcification"]["operating_point"] == {"sensitivity": 1.0, "fppi": 0.5}
    assert (tmp_path / "r" / "froc.png").stat().st_size > 1000
    assert "## Calcifications" in (tmp_path / "r" / "report.md").read_text()

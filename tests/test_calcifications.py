"""Connected components and clusters in physical units."""

from __future__ import annotations

import numpy as np
import pytest

from mcseg.calcifications import cluster_radius_mm, find_calcifications, find_clusters, peak_blob


def test_components_and_candidates():
    prob = np.zeros((50, 50), np.float32)
    prob[10:12, 10:12] = 0.9   # a calcification
    prob[30, 30] = 0.3         # a candidate below the operating point
    prob[31, 31] = 0.05        # below the candidate threshold
    calcs = find_calcifications(prob, 0.5, 0.1)
    assert [c.above_operating for c in calcs] == [True, False]
    assert calcs[0].area_px == 4 and calcs[0].centroid_px == (10.5, 10.5)
    assert calcs[0].score == pytest.approx(0.9) and calcs[1].score == pytest.approx(0.3)


def test_weak_halo_of_a_strong_component_is_not_listed_twice():
    prob = np.zeros((20, 20), np.float32)
    prob[5:10, 5:10] = 0.2
    prob[7, 7] = 0.8
    calcs = find_calcifications(prob, 0.5, 0.1)
    assert len(calcs) == 1


def test_fragments_of_one_calcification_are_listed_once():
    prob = np.zeros((40, 60), np.float32)
    prob[10, 10:13] = 0.9      # two pieces of one calcification, 2 px apart
    prob[10, 15:17] = 0.7
    prob[30, 10] = 0.8         # two specks 4 px apart: two calcifications
    prob[30, 15] = 0.6
    calcs = find_calcifications(prob, 0.5, 0.1, fragment_gap_px=2)
    assert len(calcs) == 3
    assert calcs[0].area_px == 5 and calcs[0].score == pytest.approx(0.9)
    assert calcs[0].centroid_px == pytest.approx((10.0, 12.8))  # mean of columns 10-12, 15-16
    assert len(find_calcifications(prob, 0.5, 0.1, fragment_gap_px=0)) == 4


def _ring(n, radius_mm, spacing_mm, centre=(500, 500)):
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([centre[0] + radius_mm / spacing_mm * np.sin(angles),
                     centre[1] + radius_mm / spacing_mm * np.cos(angles)], 1)


def test_cluster_needs_more_than_five_per_cm2():
    assert cluster_radius_mm(100) == pytest.approx(5.642, abs=1e-3)
    spacing = 0.07
    six = _ring(6, 2.0, spacing) * spacing  # 6 calcifications within 2 mm: a cluster
    assert len(find_clusters(six, np.ones(6), 6, 100.0)) == 1
    five = six[:5]
    assert find_clusters(five, np.ones(5), 6, 100.0) == []


def test_clusters_use_millimetres_not_pixels():
    # The same pixel positions are a cluster at 0.07 mm and scattered at 0.5 mm.
    px = _ring(8, 3.0, 0.07)
    assert len(find_clusters(px * 0.07, np.ones(8), 6, 100.0)) == 1
    assert find_clusters(px * 0.5, np.ones(8), 6, 100.0) == []


def test_two_separate_clusters_and_score():
    a = _ring(6, 1.5, 0.07, (300, 300)) * 0.07
    b = _ring(7, 1.5, 0.07, (300, 900)) * 0.07   # 42 mm away
    scores = np.r_[np.full(6, 0.9), np.full(7, 0.6)]
    clusters = find_clusters(np.vstack([a, b]), scores, 6, 100.0)
    assert len(clusters) == 2
    assert clusters[0].score == pytest.approx(0.9) and sorted(clusters[0].members) == list(range(6))


def test_a_weak_candidate_is_outlined_around_its_peak():
    # A faint peak (0.5) inside a wide low plateau (0.15) that also holds a second bump (0.3).
    prob = np.zeros((60, 60), np.float32)
    prob[5:55, 5:55] = 0.15
    prob[20:23, 20:23] = 0.5
    prob[40:42, 40:42] = 0.3
    (weak,) = find_calcifications(prob, 0.8, 0.1, fragment_gap_px=0, candidate_rim_px=0)
    assert weak.area_px == 50 * 50 and weak.centroid_px == (20.0, 20.0)  # the whole plateau
    box, own = peak_blob(prob, weak, 0.25)
    assert box == (20, 20, 23, 23) and own.sum() == 9  # the peak's blob; not the other bump
    box, own = peak_blob(prob, weak, 0.1)
    assert own.sum() == 50 * 50  # at the plateau's level, the plateau


def test_sub_threshold_peaks_are_listed_apart_when_asked():
    """Two faint calcifications joined by faint tissue are one candidate region: by default one
    candidate (the higher peak), with a peak separation both peaks, and not the plateau between."""
    yy, xx = np.mgrid[:60, :60]
    prob = (0.4 * np.exp(-((yy - 30) ** 2 + (xx - 15) ** 2) / 8)
            + 0.3 * np.exp(-((yy - 30) ** 2 + (xx - 45) ** 2) / 8)).astype(np.float32)
    prob[29:32, 15:46] = np.maximum(prob[29:32, 15:46], 0.15)  # the bridge: a plateau above 0.1
    one = find_calcifications(prob, 0.9, 0.1, 2, 4)
    assert [c.centroid_px for c in one] == [(30.0, 15.0)]
    both = find_calcifications(prob, 0.9, 0.1, 2, 4, peak_separation_px=4)
    assert [c.centroid_px for c in both] == [(30.0, 15.0), (30.0, 45.0)]
    assert [round(c.score, 2) for c in both] == [0.4, 0.3] and not any(c.above_operating for c in both)
    assert both[0].area_px < 40  # the blob at half its peak, not the whole region


def test_peaks_are_looked_for_only_from_the_floor_up():
    """A region whose peaks stay under PEAK_FLOOR keeps one candidate at its highest peak; a region
    that reaches it lists each prominent peak, measured at the peak itself (peak_px)."""
    from mcseg.calcifications.components import PEAK_FLOOR

    yy, xx = np.mgrid[:60, :100]

    def blob(r, c, height):
        return height * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / 8)

    prob = (blob(15, 15, 0.8) + blob(15, 45, 0.6) + blob(45, 15, PEAK_FLOOR - 0.1) + blob(45, 45, PEAK_FLOOR - 0.05)
            + blob(30, 85, 0.25)).astype(np.float32)
    prob[14:17, 15:46] = np.maximum(prob[14:17, 15:46], 0.15)   # joins the two strong peaks
    prob[44:47, 15:46] = np.maximum(prob[44:47, 15:46], 0.15)   # joins the two weak ones
    found = find_calcifications(prob, 0.9, 0.1, 2, 4, peak_separation_px=4)
    at = {(round(c.centroid_px[0]), round(c.centroid_px[1])): c for c in found}
    assert set(at) == {(15, 15), (15, 45), (45, 45), (30, 85)}
    assert at[(15, 15)].peak_px == (15, 15) and at[(15, 45)].peak_px == (15, 45)
    assert at[(45, 45)].peak_px is None and at[(30, 85)].peak_px is None  # by region, as without peaks
    by_region = find_calcifications(prob, 0.9, 0.1, 2, 4)
    assert {(round(c.centroid_px[0]), round(c.centroid_px[1])) for c in by_region} == {(15, 15), (45, 45), (30, 85)}


def test_outlines_are_redrawn_from_the_finer_map_and_the_areas_add_up():
    """Each coarse calcification takes the fine components that touch it, clipped to its neighbourhood;
    one the finer map misses keeps its coarse outline; a fine spot touching no coarse pixel is not
    drawn; owners sharing a neighbourhood split its area."""
    from mcseg.calcifications import refine_outlines

    coarse = np.zeros((60, 60), bool)
    fine = np.zeros((60, 60))
    coarse[10:12, 10:12] = True                 # found coarsely; the finer map draws it 3 x 4
    fine[9:12, 9:13] = 0.95
    coarse[40:42, 40:42] = True                 # the finer map misses it: the coarse outline stays
    coarse[10:12, 40:42] = True                 # two close calcifications in one neighbourhood
    coarse[10:12, 44:46] = True
    fine[10:12, 40:46] = 0.9                    # the finer map joins them
    fine[25:28, 25:28] = 0.99                   # a spot far from anything found: not drawn
    fine[30:40, 10:12] = 0.99                   # below the first one, outside its neighbourhood: not drawn
    owners = np.array([[10, 10], [40, 40], [10, 40], [10, 45]])
    drawn, areas = refine_outlines(coarse, fine, 0.8, 2, owners)
    assert drawn[9:12, 9:13].all() and drawn[0:30, 0:30].sum() == 12
    assert drawn[40:42, 40:42].all() and drawn[35:50, 35:50].sum() == 4
    assert drawn[10:12, 40:46].all() and not drawn[25:28, 25:28].any() and not drawn[30:40, 10:12].any()
    assert areas.tolist() == [12.0, 4.0, 6.0, 6.0] and areas.sum() == drawn.sum()
    # A fine component that touches a coarse one is clipped to the coarse one's neighbourhood.
    fine[12:30, 10:11] = 0.95
    drawn, areas = refine_outlines(coarse, fine, 0.8, 2, owners)
    assert drawn[12:14, 10].all() and not drawn[14:30, 10].any() and areas[0] == 12 + 2

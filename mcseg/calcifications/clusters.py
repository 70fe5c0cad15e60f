"""Clusters of calcifications in physical units.

Valvano 2019 sec. 3.1 (after Park et al. 2000): a cluster is a region with
more than 5 calcifications per cm^2. We read that as DBSCAN on centroids in mm:
a calcification is a cluster core when at least ``min_calcifications`` of them
(itself included) lie within the circle of area ``area_mm2`` centred on it;
cores closer than that radius join, and their neighbours are members.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import DBSCAN


@dataclass
class Cluster:
    members: list[int]                    # indices into the calcification list given
    centroid_mm: tuple[float, float]      # (row, col) in mm
    score: float


def cluster_radius_mm(area_mm2: float) -> float:
    """Radius of the circle of ``area_mm2``: 5.64 mm for 1 cm^2."""
    return math.sqrt(area_mm2 / math.pi)


def find_clusters(
    centroids_mm: np.ndarray,
    scores: np.ndarray,
    min_calcifications: int,
    area_mm2: float,
) -> list[Cluster]:
    """Clusters among calcifications at ``centroids_mm`` (n, 2), strongest first.

    A cluster's score is the mean of its ``min_calcifications`` highest member
    scores: the evidence that at least that many calcifications are real.
    """
    centroids_mm = np.asarray(centroids_mm, dtype=np.float64).reshape(-1, 2)
    if len(centroids_mm) < min_calcifications:
        return []
    labels = DBSCAN(eps=cluster_radius_mm(area_mm2), min_samples=min_calcifications).fit_predict(centroids_mm)
    clusters = []
    for label in sorted(set(labels) - {-1}):
        members = np.flatnonzero(labels == label)
        top = np.sort(np.asarray(scores)[members])[::-1][:min_calcifications]
        centre = centroids_mm[members].mean(axis=0)
        clusters.append(Cluster(members=members.tolist(), centroid_mm=(float(centre[0]), float(centre[1])),
                                score=float(top.mean())))
    clusters.sort(key=lambda c: -c.score)
    return clusters


def promote_clustered(centroids_mm: np.ndarray, scores: np.ndarray, inside: np.ndarray, threshold: float,
                      min_calcifications: int, area_mm2: float) -> np.ndarray:
    """``inside`` (bool, one per calcification) plus every calcification scored at least ``threshold``
    that forms a cluster with those inside and the other such ones: a false positive seldom has two
    more within a cluster's reach, so clustered candidates can be held to a lower bar."""
    inside = np.asarray(inside, bool).copy()
    pool = np.flatnonzero(inside | (np.asarray(scores) >= threshold))
    mm = np.asarray(centroids_mm, np.float64).reshape(-1, 2)[pool]
    for cluster in find_clusters(mm, np.asarray(scores)[pool], min_calcifications, area_mm2):
        inside[pool[cluster.members]] = True
    return inside

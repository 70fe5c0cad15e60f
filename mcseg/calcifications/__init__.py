"""Stage 4: calcifications (connected components) and clusters (in mm)."""

from mcseg.calcifications.clusters import Cluster, cluster_radius_mm, find_clusters, promote_clustered
from mcseg.calcifications.components import Calcification, find_calcifications, peak_blob
from mcseg.calcifications.outline import refine_outlines

__all__ = ["Calcification", "Cluster", "cluster_radius_mm", "find_calcifications", "find_clusters", "peak_blob",
           "promote_clustered", "refine_outlines"]

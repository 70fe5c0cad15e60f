"""Stage 2: the detector CNN on N x N windows overlapped by N/2 (Valvano 2019 sec. 3.1)."""

from mcseg.detector.windows import DetectorResult, run_detector, window_grid

__all__ = ["DetectorResult", "run_detector", "window_grid"]

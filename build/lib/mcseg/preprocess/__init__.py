"""Stage 1: from the input frame to the working frame the networks see.

Breast/background separation (Otsu, Valvano 2019 sec. 3.1), laterality
normalisation, resampling to the working pixel size and intensity normalisation.
:class:`WorkingFrame` remembers every step so results map back exactly.
"""

from mcseg.preprocess.breast import breast_mask
from mcseg.preprocess.frame import WorkingFrame, to_working_frame
from mcseg.preprocess.normalise import normalise_intensities

__all__ = ["WorkingFrame", "breast_mask", "normalise_intensities", "to_working_frame"]

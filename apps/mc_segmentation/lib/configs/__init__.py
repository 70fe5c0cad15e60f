"""One TaskConfig per model, as in MONAI Label's sample apps."""

from lib.configs.detector import Detector
from lib.configs.pipeline import Pipeline
from lib.configs.segmentator import Segmentator

#: Model name -> TaskConfig, in the order the panel lists them.
CONFIGS = {"pipeline": Pipeline, "detector": Detector, "segmentator": Segmentator}

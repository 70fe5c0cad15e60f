"""One TaskConfig per model, as in MONAI Label's sample apps."""

from lib.configs.cortina_detector import CortinaDetectorTaskConfig
from lib.configs.cortina_resnet import CortinaResNetTaskConfig
from lib.configs.cortina_svm import CortinaTaskConfig
from lib.configs.detector import DetectorTaskConfig
from lib.configs.luna_lozoya import LunaLozoyaTaskConfig
from lib.configs.marita_unet import MaritaUNetTaskConfig
from lib.configs.pipeline import PipelineTaskConfig
from lib.configs.segmentator import SegmentatorTaskConfig

#: Model name -> TaskConfig, in the order the panel lists them.
CONFIGS = {"pipeline": PipelineTaskConfig, "detector": DetectorTaskConfig, "segmentator": SegmentatorTaskConfig,
           "luna_lozoya": LunaLozoyaTaskConfig, "marita_unet": MaritaUNetTaskConfig,
           "cortina_svm": CortinaTaskConfig, "cortina_resnet": CortinaResNetTaskConfig,
           "cortina_detector": CortinaDetectorTaskConfig}

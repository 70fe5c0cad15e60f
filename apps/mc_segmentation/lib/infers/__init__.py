from .mcseg_infer import ClusterPresenceInfer, CortinaDetectorInfer, CortinaInfer, CortinaResNetInfer, DetectorInfer, PipelineInfer, SegmentatorInfer, UNetInfer

__all__ = ["ClusterPresenceInfer", "CortinaDetectorInfer", "CortinaInfer", "CortinaResNetInfer", "DetectorInfer", "PipelineInfer", "SegmentatorInfer", "UNetInfer"]

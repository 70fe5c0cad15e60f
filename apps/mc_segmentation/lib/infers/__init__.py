from .mcseg_infer import ClusterPresenceInfer, CortinaInfer, DetectorInfer, PipelineInfer, SegmentatorInfer, UNetInfer

__all__ = ["ClusterPresenceInfer", "CortinaInfer", "DetectorInfer", "PipelineInfer", "SegmentatorInfer", "UNetInfer"]

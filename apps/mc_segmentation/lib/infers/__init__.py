from .mcseg_infer import ClusterPresenceInfer, CortinaInfer, CortinaResNetInfer, DetectorInfer, PipelineInfer, SegmentatorInfer, UNetInfer

__all__ = ["ClusterPresenceInfer", "CortinaInfer", "CortinaResNetInfer", "DetectorInfer", "PipelineInfer", "SegmentatorInfer", "UNetInfer"]

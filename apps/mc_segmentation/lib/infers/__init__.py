from .mcseg_infer import ClusterPresenceInfer, DetectorInfer, PipelineInfer, SegmentatorInfer

__all__ = ["ClusterPresenceInfer", "DetectorInfer", "PipelineInfer", "SegmentatorInfer"]

from .mcseg_infer import DetectorInfer, PipelineInfer, SegmentatorInfer

__all__ = ["DetectorInfer", "PipelineInfer", "SegmentatorInfer"]

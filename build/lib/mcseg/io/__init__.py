"""Reading mammograms and writing results (the output contract)."""

from mcseg.io.errors import (
    EmptyLabelError,
    ImageSizeError,
    InputError,
    LabelError,
    NotAMammogramError,
    PixelSizeError,
    UnreadableImageError,
)
from mcseg.io.labels import LABEL_VALUES, read_label, read_label_checked, read_label_image
from mcseg.io.reader import IMAGE_SUFFIXES, Mammogram, read_mammogram

__all__ = [
    "IMAGE_SUFFIXES",
    "LABEL_VALUES",
    "LabelError",
    "PixelSizeError",
    "EmptyLabelError",
    "ImageSizeError",
    "InputError",
    "Mammogram",
    "NotAMammogramError",
    "UnreadableImageError",
    "read_label",
    "read_label_checked",
    "read_label_image",
    "read_mammogram",
]

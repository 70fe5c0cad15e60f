"""Reading mammograms and writing results (the output contract)."""

from mcseg.io.errors import (
    EmptyLabelError,
    ImageSizeError,
    InputError,
    NotAMammogramError,
    UnreadableImageError,
)
from mcseg.io.labels import read_label, read_label_image
from mcseg.io.reader import IMAGE_SUFFIXES, Mammogram, read_mammogram

__all__ = [
    "IMAGE_SUFFIXES",
    "EmptyLabelError",
    "ImageSizeError",
    "InputError",
    "Mammogram",
    "NotAMammogramError",
    "UnreadableImageError",
    "read_label",
    "read_label_image",
    "read_mammogram",
]

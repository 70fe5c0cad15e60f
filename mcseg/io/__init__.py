"""Reading mammograms and writing results (the output contract)."""

from mcseg.io.errors import (
    EmptyLabelError,
    ImageSizeError,
    InputError,
    NotAMammogramError,
    UnreadableImageError,
)
from mcseg.io.reader import Mammogram, read_mammogram

__all__ = [
    "EmptyLabelError",
    "ImageSizeError",
    "InputError",
    "Mammogram",
    "NotAMammogramError",
    "UnreadableImageError",
    "read_mammogram",
]

"""Errors raised for bad input. Each names the file and what is wrong with it.

They derive from ValueError so that callers (the CLI, the MONAI Label app) can
map every one of them to a user error (exit code 2, HTTP 4xx) in one place.
"""


class InputError(ValueError):
    """Base class: the input cannot be processed, and the message says why."""


class UnreadableImageError(InputError):
    """Not an image file, a corrupt one, or a format we do not read."""


class NotAMammogramError(InputError):
    """A readable image that is not a 2D mammogram (e.g. a CT slice, RGB, multi-frame)."""


class ImageSizeError(InputError):
    """Too small to hold one detector window, or too large to process safely."""


class EmptyLabelError(InputError):
    """A ground-truth label with no calcification pixel where one is required."""


class PixelSizeError(InputError):
    """A pixel size no mammogram can have (not finite, negative, or outside 0.02-0.5 mm)."""


class LabelError(InputError):
    """A calcification label that cannot be used: undecodable, not 0/1, not finite, or of another size."""

"""Read media cells (images, text) and turn bad media into clear errors.

The readers take one cell of a media column and return a plain value
(a uint8 array, a str); anything unreadable raises
:class:`mmfuse.exceptions.MediaError` naming the source. Transformers add the
modality and the sample index (:meth:`MediaError.at`) and apply their
``on_error`` policy.
"""

from mmfuse.io._audio import DEFAULT_MAX_DURATION, read_audio
from mmfuse.io._image import DEFAULT_MAX_PIXELS, read_image
from mmfuse.io._source import describe_source
from mmfuse.io._text import read_text

__all__ = [
    "DEFAULT_MAX_DURATION",
    "DEFAULT_MAX_PIXELS",
    "describe_source",
    "read_audio",
    "read_image",
    "read_text",
]

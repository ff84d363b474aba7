"""Small helpers shared by the media transformers."""

from mmfuse.utils._column import as_column, is_missing_cell

__all__ = ["as_column", "is_missing_cell"]

"""Small helpers shared by the media transformers."""

from mmfuse.utils._column import VectorColumn, as_column, is_missing_cell

__all__ = ["VectorColumn", "as_column", "is_missing_cell"]

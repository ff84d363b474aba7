"""Datasets: generators (``make_*``) and helpers to find real datasets on disk.

Real datasets are never downloaded or shipped; :func:`find_dataset` locates a
copy under ``data_dir`` or ``$MMFUSE_DATA``. See ``datasets/README.md`` in the
repository for the dataset cards.
"""

from mmfuse.datasets._av_digits import load_av_digits
from mmfuse.datasets._base import find_dataset, get_data_home
from mmfuse.datasets._catalog import dataset_status, describe_datasets
from mmfuse.datasets._fsdd import load_fsdd
from mmfuse.datasets._mnist import load_mnist
from mmfuse.datasets._mvsa import load_mvsa_twitter
from mmfuse.datasets._shapes import make_shapes, sample_shapes_latent
from mmfuse.datasets._wikipedia import load_image_text_folder, load_wikipedia

__all__ = [
    "dataset_status",
    "describe_datasets",
    "find_dataset",
    "get_data_home",
    "load_av_digits",
    "load_fsdd",
    "load_image_text_folder",
    "load_mnist",
    "load_mvsa_twitter",
    "load_wikipedia",
    "make_shapes",
    "sample_shapes_latent",
]

"""Scale out: extraction and encoding over joblib or a Dask cluster, out of core.

Every media transformer parallelises over batches of files with
:class:`joblib.Parallel`, so the same code runs on local processes
(``n_jobs``) or, inside ``with joblib.parallel_config(backend="dask"):`` and
a :class:`dask.distributed.Client`, on a Dask cluster. For collections larger
than memory, :func:`extract_to_shards` writes a transformer's output on a long
file list to resumable on-disk shards with a manifest; :func:`iter_shards`,
:func:`load_shards`, :func:`to_dask_array` and :func:`to_dask_bag` read them
back, streamed, whole, or as lazy Dask collections. :class:`CachedTransformer`
computes an extractor's output once per sample, so cross-validation, stacking
and grid search over a pipeline with SIFT or MFCC inside extract each sample
once.
"""

from mmfuse.parallel._cache import CachedTransformer
from mmfuse.parallel._dask import to_dask_array, to_dask_bag
from mmfuse.parallel._shards import (
    Manifest,
    concatenate_descriptor_sets,
    extract_to_shards,
    iter_shards,
    load_shards,
    read_shard,
)

__all__ = [
    "CachedTransformer",
    "Manifest",
    "concatenate_descriptor_sets",
    "extract_to_shards",
    "iter_shards",
    "load_shards",
    "read_shard",
    "to_dask_array",
    "to_dask_bag",
]

"""Lazy Dask views of a shard directory, for collections that do not fit in memory."""

from __future__ import annotations

import numpy as np

from mmfuse.parallel._shards import Manifest, read_shard


def _import_dask():
    try:
        import dask
        import dask.array
        import dask.bag
    except ImportError as exc:  # pragma: no cover - dask is in the dev extra
        raise ImportError(
            "the Dask views need dask[array,bag]; install mmfuse with the 'dask' extra: "
            "pip install 'mmfuse[dask]'") from exc
    return dask


def to_dask_array(out_dir):
    """The shards of a directory as one lazy :class:`dask.array.Array`, one chunk per shard.

    Nothing is read until the array is computed, so it can describe far more
    data than memory holds.

    Parameters
    ----------
    out_dir : str or path-like
        A finished directory written by :func:`extract_to_shards`.

    Returns
    -------
    array : dask.array.Array
        Dense shards (encoded vectors): shape ``(n_files, n_features)``, row
        ``i`` for file ``i``. Descriptor shards: every descriptor row,
        shape ``(n_descriptors, n_features)`` float32, in file order (a
        sample for codebook learning, for instance).

    Raises
    ------
    ValueError
        For an unfinished run, or sparse shards (use :func:`iter_shards`).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from mmfuse.parallel import extract_to_shards, to_dask_array
    >>> square = FunctionTransformer(lambda cells: np.square(np.asarray(cells, float))[:, None])
    >>> out = tempfile.mkdtemp()
    >>> _ = extract_to_shards(list(range(5)), square.fit([[0]]), out, shard_size=2)
    >>> array = to_dask_array(out)
    >>> array.shape, array.chunks
    ((5, 1), ((2, 2, 1), (1,)))
    >>> array.sum().compute()
    np.float64(30.0)
    """
    dask = _import_dask()
    manifest = _finished(out_dir)
    if manifest.kind == "sparse":
        raise ValueError("sparse shards have no Dask array view; stream them with iter_shards")
    if manifest.n_shards == 0:
        return dask.array.zeros((0, manifest.n_features or 0), dtype=np.float32)
    chunks = []
    for index in range(manifest.n_shards):
        record = manifest.shards[index]
        if manifest.kind == "descriptors":
            block = dask.delayed(_descriptor_values)(manifest.path(index))
            dtype = np.float32
        else:
            block = dask.delayed(read_shard)(manifest.path(index), "dense")
            dtype = np.dtype(record.get("dtype", "float32"))
        chunks.append(dask.array.from_delayed(
            block, shape=(record["n_values"], manifest.n_features), dtype=dtype))
    return dask.array.concatenate(chunks, axis=0)


def to_dask_bag(out_dir):
    """The shards of a directory as a lazy :class:`dask.bag.Bag`, one item per file.

    One partition per shard. An item is the file's descriptors, an array
    ``(n_i, n_features)`` (descriptor shards), or its row: a 1-D array
    (dense shards) or a ``(1, n_features)`` sparse row (sparse shards).

    Parameters
    ----------
    out_dir : str or path-like
        A finished directory written by :func:`extract_to_shards`.

    Returns
    -------
    bag : dask.bag.Bag

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from mmfuse.image import SIFTExtractor
    >>> from mmfuse.parallel import extract_to_shards, to_dask_bag
    >>> images = [np.zeros((40, 40), np.uint8), None, np.zeros((24, 24), np.uint8)]
    >>> out = tempfile.mkdtemp()
    >>> _ = extract_to_shards(images, SIFTExtractor(step=8).fit([]), out, shard_size=2)
    >>> bag = to_dask_bag(out)
    >>> bag.npartitions, bag.map(len).compute(scheduler="sync")
    (2, [16, 0, 4])
    """
    dask = _import_dask()
    manifest = _finished(out_dir)
    parts = [dask.delayed(_shard_items)(manifest.path(index), manifest.kind)
             for index in range(manifest.n_shards)]
    return dask.bag.from_delayed(parts) if parts else dask.bag.from_sequence([])


def _finished(out_dir) -> Manifest:
    manifest = Manifest.read(out_dir)
    if not manifest.complete:
        raise ValueError(
            f"{manifest.out_dir}: {len(manifest.shards)} of {manifest.n_shards} shards are "
            "finished; run extract_to_shards again with resume=True first")
    return manifest


def _descriptor_values(path) -> np.ndarray:
    return read_shard(path, "descriptors").values


def _shard_items(path, kind) -> list:
    data = read_shard(path, kind)
    if kind == "descriptors":
        return list(data)
    if kind == "sparse":
        return [data[i] for i in range(data.shape[0])]
    return list(np.asarray(data))

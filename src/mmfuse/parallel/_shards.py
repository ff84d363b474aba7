"""Extract and encode a large file list into on-disk shards, resumably.

A *shard* is the output of a fitted transformer (an extractor such as
:class:`~mmfuse.image.SIFTExtractor`, or a whole extract-then-encode
:class:`~sklearn.pipeline.Pipeline`) on ``shard_size`` consecutive files. Each
shard is one NumPy file written atomically (temporary file, then
:func:`os.replace`) by the process that computed it; the parent records it in
``manifest.json`` only once the file is complete. A run that stops for any
reason (a dead worker, an error, Ctrl-C) keeps every recorded shard, and the
next run with ``resume=True`` computes only the others.

Storage is ``.npy`` / ``.npz`` plus a JSON manifest rather than Parquet: the
outputs are float32 matrices (fixed-width rows, or ragged CSR descriptor sets)
that NumPy writes and memory-maps exactly, with no extra dependency, and a
ragged descriptor set would otherwise need nested list columns.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import pickle
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cloudpickle
import joblib
import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from mmfuse._config import config_context, get_config, resolve_verbose
from mmfuse.descriptors import DescriptorSet
from mmfuse.exceptions import MediaError
from mmfuse.io import describe_source

MANIFEST_NAME = "manifest.json"
_FORMAT = "mmfuse-shards"
_VERSION = 1
#: Output kinds and the suffix of their shard files.
_SUFFIX = {"descriptors": ".npz", "dense": ".npy", "sparse": ".npz"}
#: Seconds between rewrites of the manifest during a run (and once at its end).
_MANIFEST_INTERVAL = 1.0
#: Parameters that change how a transformer runs, never what it outputs.
_RUN_ONLY_PARAMS = ("n_jobs", "verbose", "batch_size")


@dataclass
class Manifest:
    """What a shard directory holds: the run's settings and every finished shard.

    Read one with :meth:`Manifest.read`; :func:`extract_to_shards` returns
    one. Shard ``i`` covers files ``shards[i]["start"]:shards[i]["stop"]``
    of the list the run was given, row for row.

    Attributes
    ----------
    out_dir : Path
        The shard directory.
    n_files : int
        Length of the file list.
    shard_size : int
        Files per shard (the last shard may hold fewer).
    kind : {"descriptors", "dense", "sparse"} or None
        What each shard stores: a :class:`~mmfuse.descriptors.DescriptorSet`
        (``.npz``), a dense float matrix (``.npy``) or a SciPy sparse matrix
        (``.npz``). None until the first shard is finished.
    n_features : int or None
        Width of the descriptors or rows.
    shards : dict of int to dict
        Finished shards by index: ``file``, ``start``, ``stop``, ``n_rows``,
        ``n_values`` (descriptor rows of a descriptor shard, else
        ``n_rows``), ``dtype``, ``seconds`` (compute time) and ``errors``.
    files_hash, transformer_hash : str
        Fingerprints :func:`extract_to_shards` checks before resuming.
    transformer : str
        ``repr`` of the transformer, for people reading the manifest.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from mmfuse.image import SIFTExtractor
    >>> from mmfuse.parallel import Manifest, extract_to_shards
    >>> images = [np.full((48, 48), v, np.uint8) for v in (0, 60, 120)]
    >>> out = tempfile.mkdtemp()
    >>> _ = extract_to_shards(images, SIFTExtractor(step=16).fit([]), out, shard_size=2)
    >>> manifest = Manifest.read(out)
    >>> manifest.n_shards, manifest.complete, manifest.kind
    (2, True, 'descriptors')
    >>> [(s["start"], s["stop"]) for s in manifest.shards.values()]
    [(0, 2), (2, 3)]
    """

    out_dir: Path
    n_files: int
    shard_size: int
    files_hash: str
    transformer_hash: str
    transformer: str = ""
    kind: str | None = None
    n_features: int | None = None
    shards: dict = field(default_factory=dict)

    # -- derived -------------------------------------------------------------
    @property
    def n_shards(self) -> int:
        """Number of shards the file list is cut into."""
        return -(-self.n_files // self.shard_size)

    def bounds(self, index: int) -> tuple[int, int]:
        """``(start, stop)`` file range of shard ``index``."""
        start = index * self.shard_size
        return start, min(start + self.shard_size, self.n_files)

    @property
    def complete(self) -> bool:
        """Whether every shard is finished."""
        return len(self.shards) == self.n_shards

    @property
    def pending(self) -> list[int]:
        """Indices of the shards not finished yet."""
        return [i for i in range(self.n_shards) if i not in self.shards]

    @property
    def n_done_files(self) -> int:
        """Files covered by finished shards."""
        return sum(s["stop"] - s["start"] for s in self.shards.values())

    @property
    def errors(self) -> list[dict]:
        """Files that could not be read (``on_error="skip"``), in file order.

        Each is a dict with ``sample`` (index in the file list), ``source``
        (the path), ``modality`` and ``reason``.
        """
        found = [e for i in sorted(self.shards) for e in self.shards[i]["errors"]]
        return sorted(found, key=lambda e: e["sample"])

    def path(self, index: int) -> Path:
        """Path of shard ``index``'s file."""
        return self.out_dir / self.shards[index]["file"]

    # -- persistence ---------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": _FORMAT, "version": _VERSION, "n_files": self.n_files,
            "shard_size": self.shard_size, "n_shards": self.n_shards,
            "files_hash": self.files_hash, "transformer_hash": self.transformer_hash,
            "transformer": self.transformer, "kind": self.kind, "n_features": self.n_features,
            "shards": [self.shards[i] for i in sorted(self.shards)],
        }

    def write(self) -> None:
        """Replace ``manifest.json`` atomically (a reader never sees half a file)."""
        text = json.dumps(self.to_dict(), indent=1)
        _atomic_write(self.out_dir / MANIFEST_NAME, lambda f: f.write(text.encode()))

    @classmethod
    def read(cls, out_dir) -> Manifest:
        """Read ``out_dir/manifest.json``.

        Raises
        ------
        FileNotFoundError
            When the directory holds no manifest.
        ValueError
            When the file is not an mmfuse shard manifest.
        """
        out_dir = Path(out_dir)
        path = out_dir / MANIFEST_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"{out_dir} holds no {MANIFEST_NAME}; write shards there with "
                "mmfuse.parallel.extract_to_shards first")
        data = json.loads(path.read_text())
        if data.get("format") != _FORMAT or data.get("version") != _VERSION:
            raise ValueError(f"{path} is not an mmfuse shard manifest (version {_VERSION})")
        return cls(out_dir=out_dir, n_files=data["n_files"], shard_size=data["shard_size"],
                   files_hash=data["files_hash"], transformer_hash=data["transformer_hash"],
                   transformer=data.get("transformer", ""), kind=data["kind"],
                   n_features=data["n_features"],
                   shards={s["index"]: s for s in data["shards"]})


def extract_to_shards(files, transformer, out_dir, *, shard_size=256, on_error="raise",
                      resume=True, n_jobs=None, verbose=None) -> Manifest:
    """Apply a fitted transformer to a long file list, shard by shard, on disk.

    The list is cut into shards of ``shard_size`` consecutive files; each
    shard is transformed in one parallel task and written to ``out_dir`` by
    the process that computed it. Reading the shards back in order
    (:func:`load_shards`) gives exactly ``transformer.transform(files)``.

    Parallel work goes through :class:`joblib.Parallel`, one task per shard.
    Locally that is joblib's process pool (``n_jobs``); inside
    ``with joblib.parallel_config(backend="dask"):`` and a
    :class:`dask.distributed.Client`, shards run on the Dask cluster, whose
    workers must see ``out_dir`` (a shared file system) and the files.
    Within a shard the transformer runs sequentially: the shards are the
    unit of parallel work, so its own ``n_jobs`` is not used. The caller's
    :func:`mmfuse.config_context` (``device``, ``working_memory``) applies
    in the workers too: under ``config_context(device="gpu")`` the encoding
    kernels of every shard run on its worker's GPU.

    Parameters
    ----------
    files : sequence or dask.bag.Bag
        Media cells, usually paths (anything the transformer takes: image
        arrays, bytes, None for a missing sample). A bag is computed first:
        the list of paths must fit in memory, their content need not.
    transformer : fitted transformer or Pipeline
        Maps a list of cells to a :class:`~mmfuse.descriptors.DescriptorSet`
        or a 2-D (dense or SciPy sparse) matrix, one row per cell. It must
        be fitted: feature extractors learn nothing (``SIFTExtractor().fit([])``
        is enough); learn an encoder's codebook before, for example with
        ``partial_fit`` over :func:`iter_shards` of a descriptor run.
    out_dir : str or path-like
        Directory of the shards and ``manifest.json`` (created if needed).
    shard_size : int, default=256
        Files per shard: per-task overhead against memory, redone work after
        a failure, and the number of files.
    on_error : {"raise", "skip"}, default="raise"
        An unreadable file (missing, corrupt, over the size limits) raises
        :class:`~mmfuse.exceptions.MediaError` naming its index in ``files``
        and its path (``"raise"``), after the finished shards are recorded;
        or it is described as a missing cell (so rows stay aligned with
        ``files``), listed in :attr:`Manifest.errors` with its path and
        reason, counted in one warning, and the run goes on (``"skip"``).
        This overrides the ``on_error`` of the transformer's steps.
    resume : bool, default=True
        Keep the shards a previous run recorded in ``out_dir`` and compute
        only the others. The previous run must have had the same files,
        ``shard_size`` and transformer (parameters that only change how it
        runs, such as ``n_jobs``, may differ), else ValueError. False starts
        over, overwriting what is there.
    n_jobs : int, default=None
        Shards processed at once (:class:`joblib.Parallel`; None means 1
        unless inside :func:`joblib.parallel_config`, -1 all cores).
    verbose : int, default=None
        ``>= 1`` shows a progress bar over files. None uses
        ``mmfuse.get_config()["verbose"]``.

    Returns
    -------
    manifest : Manifest
        The finished run, as recorded in ``out_dir/manifest.json``.

    Raises
    ------
    MediaError
        With ``on_error="raise"``, for an unreadable file.
    ValueError
        When resuming a directory written from other files, shard size or
        transformer.

    See Also
    --------
    load_shards : read the shards back into memory.
    iter_shards : stream them, for out-of-core learning.
    to_dask_array, to_dask_bag : lazy Dask views of the shards.

    Notes
    -----
    A worker that dies mid-shard loses only that shard (Dask re-runs it
    elsewhere; with a local pool joblib raises and a re-run resumes). The
    manifest is rewritten at most once a second and when the run ends or
    raises, so even a killed calling process loses only the shards of its
    last second and those in flight. Two runs must not write to the same
    directory at the same time.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from mmfuse.image import SIFTExtractor
    >>> from mmfuse.parallel import extract_to_shards, load_shards
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.integers(0, 255, (64, 64), dtype=np.uint8) for _ in range(5)]
    >>> sift = SIFTExtractor(step=16).fit([])
    >>> out = tempfile.mkdtemp()
    >>> manifest = extract_to_shards(images, sift, out, shard_size=2)
    >>> manifest.n_shards, manifest.complete
    (3, True)
    >>> load_shards(out) == sift.transform(images)
    True
    >>> extract_to_shards(images, sift, out, shard_size=2).n_done_files  # resumes: no work
    5
    """
    if not isinstance(shard_size, (int, np.integer)) or isinstance(shard_size, bool) \
            or shard_size < 1:
        raise ValueError(f"shard_size must be a positive int, got {shard_size!r}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not hasattr(transformer, "transform"):
        raise TypeError(f"transformer must have a transform method, got {transformer!r}")
    try:
        check_is_fitted(transformer)
    except NotFittedError:
        raise NotFittedError(
            f"extract_to_shards applies a fitted transformer; fit {type(transformer).__name__} "
            "first (feature extractors learn nothing: SIFTExtractor().fit([]) is enough)"
        ) from None
    files = _as_file_list(files)
    # Absolute: a worker's working directory need not be ours.
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)

    manifest = Manifest(out_dir=out_dir, n_files=len(files), shard_size=int(shard_size),
                        files_hash=joblib.hash(files),
                        transformer_hash=_fingerprint(transformer),
                        transformer=_short_repr(transformer))
    if resume and (out_dir / MANIFEST_NAME).is_file():
        manifest = _resumable(Manifest.read(out_dir), manifest)
    manifest.write()

    worker_transformer = _raising_copy(transformer)
    # Progress is shown here, once, not by every shard's transformer.
    worker_config = {**get_config(), "verbose": 0}
    tasks = Parallel(n_jobs=n_jobs, batch_size=1, return_as="generator_unordered")(
        delayed(_run_shard)(worker_transformer, files[start:stop], index, start,
                            out_dir / f"shard-{index:06d}", on_error, worker_config)
        for index in manifest.pending for start, stop in [manifest.bounds(index)])
    unwritten, last_write = 0, time.monotonic()
    try:
        with tqdm(total=manifest.n_files, initial=manifest.n_done_files, unit="file",
                  desc="extract_to_shards", disable=resolve_verbose(verbose) < 1) as bar:
            for record in tasks:
                _check_consistent(manifest, record)
                manifest.kind = record.pop("kind")
                manifest.n_features = record.pop("n_features")
                manifest.shards[record["index"]] = record
                unwritten += 1
                # At most once a second: thousands of shards, a growing manifest.
                if time.monotonic() - last_write >= _MANIFEST_INTERVAL:
                    manifest.write()
                    unwritten, last_write = 0, time.monotonic()
                bar.update(record["stop"] - record["start"])
    finally:
        if unwritten:  # also when a shard raised: what finished is kept
            manifest.write()
        # Raising early abandons the shards in flight on purpose.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input task iterator")
            tasks.close()
    errors = manifest.errors
    if errors:
        listed = ", ".join(f"{e['sample']} ({e['source']})" for e in errors[:10])
        more = f", ... ({len(errors) - 10} more)" if len(errors) > 10 else ""
        warnings.warn(
            f"extract_to_shards: {len(errors)} unreadable file(s) described as missing "
            f"(on_error='skip'): {listed}{more}; see Manifest.errors",
            UserWarning, stacklevel=2)
    return manifest


# -- reading shards back -------------------------------------------------------
def iter_shards(out_dir, *, mmap=False) -> Iterator[tuple[int, int, object]]:
    """Stream the finished shards in file order, one at a time.

    For out-of-core work: only one shard is in memory at once, for example
    to learn a codebook with ``partial_fit`` from descriptors that do not fit
    in memory together.

    Parameters
    ----------
    out_dir : str or path-like
        A directory written by :func:`extract_to_shards`.
    mmap : bool, default=False
        Memory-map dense ``.npy`` shards instead of reading them.

    Yields
    ------
    start, stop : int
        The range of files the shard covers.
    data : DescriptorSet, ndarray or sparse matrix
        The transformer's output on those files.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from mmfuse.image import SIFTExtractor
    >>> from mmfuse.parallel import extract_to_shards, iter_shards
    >>> images = [np.zeros((40, 40), np.uint8)] * 3
    >>> out = tempfile.mkdtemp()
    >>> _ = extract_to_shards(images, SIFTExtractor(step=8).fit([]), out, shard_size=2)
    >>> [(start, stop, data.n_samples) for start, stop, data in iter_shards(out)]
    [(0, 2, 2), (2, 3, 1)]
    """
    manifest = Manifest.read(out_dir)
    for index in sorted(manifest.shards):
        record = manifest.shards[index]
        yield record["start"], record["stop"], read_shard(manifest.path(index), manifest.kind,
                                                          mmap=mmap)


def load_shards(out_dir, *, allow_incomplete=False):
    """Read every shard back and join them in file order.

    Parameters
    ----------
    out_dir : str or path-like
        A directory written by :func:`extract_to_shards`.
    allow_incomplete : bool, default=False
        Join only the finished shards of an unfinished run (their rows are
        then not aligned with the file list) instead of raising.

    Returns
    -------
    data : DescriptorSet, ndarray or sparse CSR matrix
        What ``transformer.transform(files)`` returns, one row per file.

    Raises
    ------
    ValueError
        When some shards are not finished and ``allow_incomplete`` is False.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from mmfuse.image import SIFTExtractor
    >>> from mmfuse.parallel import extract_to_shards, load_shards
    >>> images = [np.zeros((40, 40), np.uint8), None, np.zeros((24, 24), np.uint8)]
    >>> out = tempfile.mkdtemp()
    >>> _ = extract_to_shards(images, SIFTExtractor(step=8).fit([]), out, shard_size=2)
    >>> load_shards(out)
    DescriptorSet(n_samples=3, n_total=20, n_features=128, missing=1)
    """
    manifest = Manifest.read(out_dir)
    if not manifest.complete and not allow_incomplete:
        raise ValueError(
            f"{manifest.out_dir}: {len(manifest.shards)} of {manifest.n_shards} shards are "
            f"finished (pending {manifest.pending[:10]}); run extract_to_shards again with "
            "resume=True, or pass allow_incomplete=True")
    parts = [data for _, _, data in iter_shards(out_dir)]
    if manifest.kind == "descriptors":
        return concatenate_descriptor_sets(parts, n_features=manifest.n_features)
    if manifest.kind == "sparse":
        return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, 0))
    if not parts:
        return np.zeros((0, manifest.n_features or 0), np.float32)
    return np.concatenate(parts, axis=0)


def read_shard(path, kind, *, mmap=False):
    """Read one shard file of the given kind (see :class:`Manifest`).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from mmfuse.parallel import Manifest, extract_to_shards, read_shard
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> codes = FunctionTransformer(lambda cells: np.ones((len(cells), 2))).fit([[0]])
    >>> out = tempfile.mkdtemp()
    >>> manifest = extract_to_shards([0, 1, 2], codes, out)
    >>> read_shard(manifest.path(0), manifest.kind)
    array([[1., 1.],
           [1., 1.],
           [1., 1.]])
    """
    path = Path(path)
    if kind == "dense":
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    if kind == "sparse":
        return sp.load_npz(path)
    if kind == "descriptors":
        with np.load(path, allow_pickle=False) as data:
            return DescriptorSet(
                data["values"], data["offsets"],
                positions=data["positions"] if "positions" in data else None,
                extents=data["extents"] if "extents" in data else None,
                missing=data["missing"])
    raise ValueError(f"unknown shard kind {kind!r}")


def concatenate_descriptor_sets(sets, *, n_features=None) -> DescriptorSet:
    """Join descriptor sets sample-wise, in order.

    ``positions`` and ``extents`` are kept when every set has them.

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.descriptors import DescriptorSet
    >>> from mmfuse.parallel import concatenate_descriptor_sets
    >>> a = DescriptorSet.from_arrays([np.ones((2, 3))])
    >>> b = DescriptorSet.from_arrays([np.zeros((0, 3)), np.ones((1, 3))])
    >>> joined = concatenate_descriptor_sets([a, b])
    >>> joined, joined.lengths.tolist()
    (DescriptorSet(n_samples=3, n_total=3, n_features=3, missing=0), [2, 0, 1])
    """
    sets = list(sets)
    if not sets:
        return DescriptorSet(np.zeros((0, n_features or 0), np.float32), np.zeros(1, np.int64))
    widths = {s.n_features for s in sets}
    if len(widths) > 1:
        raise ValueError(f"descriptor sets have different widths: {sorted(widths)}")
    lengths = np.concatenate([s.lengths for s in sets])
    keep = lambda name: all(getattr(s, name) is not None for s in sets)  # noqa: E731
    return DescriptorSet(
        np.concatenate([s.values for s in sets]),
        np.concatenate([[0], np.cumsum(lengths)]),
        positions=np.concatenate([s.positions for s in sets]) if keep("positions") else None,
        extents=np.concatenate([s.extents for s in sets]) if keep("extents") else None,
        missing=np.concatenate([s.missing for s in sets]),
    )


# -- the work of one shard (module level: picklable) ----------------------------
def _run_shard(transformer, cells, index, start, stem: Path, on_error, config) -> dict:
    began = time.perf_counter()
    cells = list(cells)
    errors = []
    # The caller's mmfuse configuration (device, working memory) holds in the
    # worker too; shards are the unit of parallel work: no nested pools.
    with config_context(**config), joblib.parallel_config(backend="sequential"):
        while True:
            try:
                out = transformer.transform(cells)
                break
            except MediaError as exc:
                local = exc.sample
                if local is None or not 0 <= local < len(cells) or cells[local] is None:
                    raise
                located = exc.at(sample=start + local)
                if on_error == "raise":
                    raise located from None
                errors.append({"sample": start + local, "modality": exc.modality,
                               "source": exc.source or describe_source(cells[local]),
                               "reason": exc.reason})
                # Describe it as a missing cell and redo the shard: unreadable
                # files are rare, and the transformer stays a black box.
                cells[local] = None
    kind, n_features, n_values, dtype = _write_shard(out, len(cells), stem, index)
    return {"index": index, "file": stem.name + _SUFFIX[kind],
            "start": start, "stop": start + len(cells), "n_rows": len(cells),
            "n_values": n_values, "dtype": dtype,
            "seconds": round(time.perf_counter() - began, 4),
            "errors": errors, "kind": kind, "n_features": n_features}


def _write_shard(out, n_rows, stem: Path, index) -> tuple[str, int, int, str]:
    if isinstance(out, DescriptorSet):
        kind = "descriptors"
        arrays = {"values": out.values, "offsets": out.offsets, "missing": out.missing}
        if out.positions is not None:
            arrays["positions"] = out.positions
        if out.extents is not None:
            arrays["extents"] = out.extents
        n_features, n_values, rows = out.n_features, out.values.shape[0], out.n_samples
        save = lambda f: np.savez(f, **arrays)  # noqa: E731
    elif sp.issparse(out):
        kind = "sparse"
        out = sp.csr_matrix(out)
        n_features, n_values, rows = out.shape[1], out.shape[0], out.shape[0]
        save = lambda f: sp.save_npz(f, out, compressed=False)  # noqa: E731
    else:
        kind = "dense"
        out = np.asarray(out)
        if out.ndim != 2:
            raise ValueError(f"shard {index}: the transformer returned an array of shape "
                             f"{out.shape}; extract_to_shards needs one row per file")
        n_features, n_values, rows = out.shape[1], out.shape[0], out.shape[0]
        save = lambda f: np.save(f, out, allow_pickle=False)  # noqa: E731
    if rows != n_rows:
        raise ValueError(f"shard {index}: the transformer returned {rows} rows for "
                         f"{n_rows} files; extract_to_shards needs one row per file")
    _atomic_write(stem.with_name(stem.name + _SUFFIX[kind]), save)
    dtype = out.values.dtype if kind == "descriptors" else out.dtype
    return kind, int(n_features), int(n_values), str(dtype)


# -- helpers -------------------------------------------------------------------
def _atomic_write(path: Path, write) -> None:
    """Write through ``write(file)`` to a temporary file, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _as_file_list(files) -> list:
    if hasattr(files, "__dask_graph__"):
        files = files.compute()
    if isinstance(files, (str, bytes)) or not hasattr(files, "__iter__"):
        raise TypeError(f"files must be a sequence of media cells, got {type(files).__name__}")
    return [os.fspath(f) if isinstance(f, os.PathLike) else f for f in files]


def _fingerprint(transformer) -> str:
    """Hash of the fitted transformer, ignoring parameters that only change how it runs."""
    normalised = copy.deepcopy(transformer)
    if hasattr(normalised, "get_params"):
        run_only = {key: None for key in normalised.get_params(deep=True)
                    if key.rsplit("__", 1)[-1] in _RUN_ONLY_PARAMS}
        if run_only:
            normalised.set_params(**run_only)
    try:
        return joblib.hash(normalised)
    except pickle.PicklingError:
        # Lambdas and local functions (e.g. in a FunctionTransformer): hash by value.
        return hashlib.md5(cloudpickle.dumps(normalised)).hexdigest()


def _raising_copy(transformer):
    """A copy whose steps raise on unreadable media, so each file can be reported."""
    if not hasattr(transformer, "get_params"):
        return transformer
    keys = [key for key in transformer.get_params(deep=True)
            if key.rsplit("__", 1)[-1] == "on_error"]
    if not keys:
        return transformer
    raising = copy.deepcopy(transformer)
    raising.set_params(**dict.fromkeys(keys, "raise"))
    return raising


def _short_repr(transformer, limit=2000) -> str:
    text = repr(transformer)
    return text if len(text) <= limit else text[:limit] + " ..."


def _resumable(previous: Manifest, wanted: Manifest) -> Manifest:
    for name, label in (("n_files", "number of files"), ("shard_size", "shard_size"),
                        ("files_hash", "file list"), ("transformer_hash", "transformer")):
        if getattr(previous, name) != getattr(wanted, name):
            raise ValueError(
                f"{wanted.out_dir} holds shards of another run (its {label} differs); "
                "write to a new directory, or pass resume=False to start over there")
    # A shard whose file was removed since is simply computed again.
    previous.shards = {i: s for i, s in previous.shards.items()
                       if (previous.out_dir / s["file"]).is_file()}
    previous.transformer = wanted.transformer
    return previous


def _check_consistent(manifest: Manifest, record: dict) -> None:
    if manifest.kind is not None and (record["kind"], record["n_features"]) != (
            manifest.kind, manifest.n_features):
        raise ValueError(
            f"shard {record['index']} holds {record['kind']} of width {record['n_features']}, "
            f"but earlier shards hold {manifest.kind} of width {manifest.n_features}")

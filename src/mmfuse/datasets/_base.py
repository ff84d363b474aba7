"""Where real datasets live on disk: ``data_dir`` or ``$MMFUSE_DATA``."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV_VAR = "MMFUSE_DATA"


def get_data_home(data_dir=None) -> Path | None:
    """Return the folder that holds mmfuse's real datasets, or None.

    mmfuse never downloads anything: real datasets are copied to a folder by
    the user (see ``datasets/README.md`` in the repository) and found here.

    Parameters
    ----------
    data_dir : str or path-like, default=None
        Explicit folder. When None, the environment variable ``MMFUSE_DATA``
        is used; an unset or empty variable means "no data folder".

    Returns
    -------
    data_home : pathlib.Path or None
        The expanded path (``~`` resolved). It is not checked for existence;
        :func:`find_dataset` does that.

    Examples
    --------
    >>> from mmfuse.datasets import get_data_home
    >>> get_data_home("/tmp/my_data").as_posix()
    '/tmp/my_data'
    """
    if data_dir is None:
        data_dir = os.environ.get(DATA_ENV_VAR) or None
    if data_dir is None:
        return None
    return Path(data_dir).expanduser()


def locate_dataset(name: str, path, *, marker: str, title: str, what: str,
                   contents: str) -> Path:
    """The folder of dataset ``name`` for a loader, or a clear FileNotFoundError.

    ``path`` may be the dataset folder itself, recognised by its ``marker``
    entry whatever the folder is called, or a folder holding ``name/``; None
    uses ``$MMFUSE_DATA`` (:func:`find_dataset`). The error says where it
    looked and what to copy there: ``what``, a folder ``name`` holding
    ``contents``.
    """
    if path is not None:
        candidate = Path(path).expanduser()
        if (candidate / marker).exists():
            return candidate
    found = find_dataset(name, data_dir=path)
    if found is None:
        where = (f"under {path}" if path is not None
                 else f"($MMFUSE_DATA is unset or has no {name}/)")
        raise FileNotFoundError(f"{title} not found {where}; copy {what} (a folder '{name}' "
                                f"holding {contents}) there, or pass its path")
    return found


def find_dataset(name: str, data_dir=None) -> Path | None:
    """Return the folder of the real dataset ``name``, or None when it is absent.

    The dataset is looked for as ``<data_home>/<name>``, where ``data_home``
    comes from :func:`get_data_home`. ``data_dir`` may also point at the
    dataset folder itself (its last component equal to ``name``). Loaders call
    this first; tests use the None answer to skip cleanly on machines without
    the data.

    Parameters
    ----------
    name : str
        Folder name of the dataset, e.g. ``"fsdd"``, ``"mnist"``,
        ``"wikipedia_xmodal"``. Must be a single path component.
    data_dir : str or path-like, default=None
        Folder holding the datasets; defaults to ``$MMFUSE_DATA``.

    Returns
    -------
    path : pathlib.Path or None
        The existing dataset folder, or None if there is no data folder or the
        dataset is not in it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from mmfuse.datasets import find_dataset
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> find_dataset("fsdd", data_dir=root) is None
    True
    >>> (root / "fsdd").mkdir()
    >>> find_dataset("fsdd", data_dir=root) == root / "fsdd"
    True
    """
    if not isinstance(name, str) or not name or name in {".", ".."} or Path(name).name != name:
        raise ValueError(
            f"find_dataset: name must be a single folder name such as 'fsdd', got {name!r}"
        )
    home = get_data_home(data_dir)
    if home is None:
        return None
    candidate = home / name
    if candidate.is_dir():
        return candidate
    if home.name == name and home.is_dir():
        return home
    return None

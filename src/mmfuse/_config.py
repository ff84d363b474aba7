"""Global, thread-local configuration, modelled on :func:`sklearn.config_context`."""

from __future__ import annotations

import threading
from contextlib import contextmanager

_DEVICES = ("cpu", "gpu", "auto")
_ARRAY_OUTPUTS = ("numpy", "device")
_LARGE_OUTPUT = ("raise", "warn", "ignore")

_global_config = {
    "device": "cpu",
    "verbose": 0,
    "working_memory": 256,
    "array_output": "numpy",
    "max_output_memory": 0.5,
    "on_large_output": "raise",
}
_threadlocal = threading.local()


def _get_threadlocal_config() -> dict:
    if not hasattr(_threadlocal, "config"):
        _threadlocal.config = _global_config.copy()
    return _threadlocal.config


def get_config() -> dict:
    """Return a copy of the current mmfuse configuration.

    Returns
    -------
    config : dict
        Keys are the parameters of :func:`set_config`.

    Examples
    --------
    >>> import mmfuse
    >>> mmfuse.get_config()["device"]
    'cpu'
    """
    return _get_threadlocal_config().copy()


def set_config(
    device: str | None = None,
    verbose: int | bool | None = None,
    working_memory: int | None = None,
    array_output: str | None = None,
    max_output_memory: float | None = None,
    on_large_output: str | None = None,
) -> None:
    """Set mmfuse configuration for the current thread.

    Parameters
    ----------
    device : {"cpu", "gpu", "auto"}, default=None
        Where the backend kernels run. ``"gpu"`` needs CuPy and a visible
        NVIDIA device and raises otherwise; ``"auto"`` uses the GPU when one
        is usable and the CPU otherwise (logging one info message).
    verbose : int or bool, default=None
        Default verbosity for estimators whose own ``verbose`` is ``None``:
        0 silent, 1 progress bars, 2 and above more detail.
    working_memory : int, default=None
        Upper bound in MiB on the temporary arrays a chunked kernel may
        allocate (like ``sklearn.set_config(working_memory=...)``).
    array_output : {"numpy", "device"}, default=None
        ``"numpy"`` returns NumPy arrays from estimators even when the work
        ran on a GPU; ``"device"`` keeps CuPy arrays on the device.
    max_output_memory : float, default=None
        Largest fraction of the memory available now (``MemAvailable``) that
        an encoder's output may take (default 0.5). Encoders and
        :class:`~mmfuse.encoding.SpatialPyramid` check before allocating it.
    on_large_output : {"raise", "warn", "ignore"}, default=None
        What a larger output does: ``"raise"`` (the default) a
        :class:`MemoryError` naming its size, the number of samples and the
        parameters that shrink it, before anything is allocated; ``"warn"``
        a :class:`ResourceWarning`, then goes on; ``"ignore"`` nothing.

    Examples
    --------
    >>> import mmfuse
    >>> mmfuse.set_config(working_memory=128)
    >>> mmfuse.get_config()["working_memory"]
    128
    >>> mmfuse.set_config(working_memory=256)
    """
    config = _get_threadlocal_config()
    if device is not None:
        if device not in _DEVICES:
            raise ValueError(f"device must be one of {_DEVICES}, got {device!r}")
        config["device"] = device
    if verbose is not None:
        config["verbose"] = int(verbose)
    if working_memory is not None:
        if int(working_memory) < 1:
            raise ValueError(f"working_memory must be >= 1 MiB, got {working_memory!r}")
        config["working_memory"] = int(working_memory)
    if array_output is not None:
        if array_output not in _ARRAY_OUTPUTS:
            raise ValueError(f"array_output must be one of {_ARRAY_OUTPUTS}, got {array_output!r}")
        config["array_output"] = array_output
    if max_output_memory is not None:
        if not 0 < float(max_output_memory):
            raise ValueError(f"max_output_memory must be > 0, got {max_output_memory!r}")
        config["max_output_memory"] = float(max_output_memory)
    if on_large_output is not None:
        if on_large_output not in _LARGE_OUTPUT:
            raise ValueError(f"on_large_output must be one of {_LARGE_OUTPUT}, got "
                             f"{on_large_output!r}")
        config["on_large_output"] = on_large_output


@contextmanager
def config_context(**new_config):
    """Temporarily change the mmfuse configuration (see :func:`set_config`).

    Examples
    --------
    >>> import mmfuse
    >>> with mmfuse.config_context(verbose=1):
    ...     mmfuse.get_config()["verbose"]
    1
    >>> mmfuse.get_config()["verbose"]
    0
    """
    old = get_config()
    set_config(**new_config)
    try:
        yield
    finally:
        set_config(**old)


def resolve_verbose(verbose) -> int:
    """An estimator's ``verbose`` if set, else the global default."""
    if verbose is None:
        return get_config()["verbose"]
    return int(verbose)

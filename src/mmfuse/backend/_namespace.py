"""Device selection: which array module runs the kernels."""

from __future__ import annotations

import functools
import logging

import numpy as np

from mmfuse._config import get_config

logger = logging.getLogger("mmfuse")


class DeviceUnavailableError(RuntimeError):
    """Raised when ``device="gpu"`` is requested but no usable GPU exists."""


@functools.cache
def _probe_cupy():
    """Import CuPy and check a device is visible; return (module, reason)."""
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install
        return None, f"CuPy could not be imported ({exc.__class__.__name__}: {exc})"
    try:
        n_devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"CuPy sees no CUDA device ({exc.__class__.__name__}: {exc})"
    if n_devices < 1:
        return None, "CuPy sees no CUDA device"
    return cupy, None


def cupy_available() -> bool:
    """Whether CuPy imports and sees at least one CUDA device."""
    return _probe_cupy()[0] is not None


@functools.cache
def _log_auto_fallback(reason: str) -> None:
    logger.info("mmfuse: device='auto' runs on the CPU: %s", reason)


def get_namespace(device: str | None = None):
    """Return ``(xp, device_name)`` for the configured or given device.

    Parameters
    ----------
    device : {"cpu", "gpu", "auto"}, default=None
        Defaults to ``mmfuse.get_config()["device"]``.

    Returns
    -------
    xp : module
        ``numpy`` or ``cupy``.
    device_name : {"cpu", "gpu"}
        Where the work will run.

    Examples
    --------
    >>> from mmfuse.backend import get_namespace
    >>> xp, where = get_namespace("cpu")
    >>> xp.__name__, where
    ('numpy', 'cpu')
    """
    device = get_config()["device"] if device is None else device
    if device == "cpu":
        return np, "cpu"
    cupy, reason = _probe_cupy()
    if device == "gpu":
        if cupy is None:
            raise DeviceUnavailableError(
                f"device='gpu' was requested but {reason}. Install the GPU extra "
                "(pip install 'mmfuse[gpu]') on a machine with an NVIDIA GPU, or use "
                "device='cpu' / 'auto'."
            )
        return cupy, "gpu"
    if device == "auto":
        if cupy is None:
            _log_auto_fallback(reason)
            return np, "cpu"
        return cupy, "gpu"
    raise ValueError(f"device must be 'cpu', 'gpu' or 'auto', got {device!r}")


def asarray(x, xp, dtype=None):
    """Move ``x`` to the namespace ``xp`` (one batched transfer)."""
    return xp.asarray(x, dtype=dtype)


def to_numpy(x):
    """Return ``x`` as a NumPy array, copying from the GPU if needed."""
    if isinstance(x, np.ndarray):
        return x
    get = getattr(x, "get", None)
    if get is not None and type(x).__module__.startswith("cupy"):
        return get()
    return np.asarray(x)


def to_output(x):
    """Convert a kernel result for the user, honouring ``array_output``."""
    if get_config()["array_output"] == "device":
        return x
    return to_numpy(x)

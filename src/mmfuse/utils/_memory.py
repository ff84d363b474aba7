"""Say it before it hurts: refuse an output that the machine cannot hold."""

from __future__ import annotations

import warnings

from mmfuse._config import get_config


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now, or None when unknown.

    Linux's ``MemAvailable`` (free memory plus what the page cache can give
    back), else :func:`psutil.virtual_memory` when psutil is installed.
    """
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def check_output_size(n_samples: int, n_features: int, *, owner: str, shrink: str,
                      itemsize: int = 4) -> None:
    """Refuse (or warn about) an ``(n_samples, n_features)`` output that would take
    more than ``max_output_memory`` of the available memory (see
    :func:`mmfuse.set_config`), before it is allocated.

    ``shrink`` names the parameters that make the output smaller.
    """
    config = get_config()
    policy = config["on_large_output"]
    if policy == "ignore":
        return
    size = n_samples * n_features * itemsize
    available = available_memory()
    if available is None or size <= config["max_output_memory"] * available:
        return
    message = (
        f"{owner}: the output would be {n_samples:,} samples x {n_features:,} features "
        f"(float32) = {_format_bytes(size)}, more than max_output_memory="
        f"{config['max_output_memory']:g} of the {_format_bytes(available)} available. "
        f"Shrink it with {shrink}, encode the samples in batches, or allow it with "
        "mmfuse.config_context(on_large_output='warn')."
    )
    if policy == "raise":
        raise MemoryError(message)
    warnings.warn(message, ResourceWarning, stacklevel=3)


__all__ = ["available_memory", "check_output_size"]

"""Opt-in pytest plugin: run the ``gpu`` tests on the CPU, against a fake CuPy.

Not a substitute for a GPU; a way to check the GPU code path and the GPU
tests themselves where there is none::

    PYTHONPATH=tests/backend .venv/bin/pytest -p fake_cupy_plugin \\
        tests/backend/test_gpu_parity.py

It installs a module named ``cupy`` whose arrays are NumPy arrays of a
subclass living in ``cupy._core.core`` (so mmfuse takes its CuPy code path:
device selection, the ``_cupy_kernels`` fast paths, device outputs), with
``asarray`` copying like a transfer, and sends the CUDA kernel launches to
the CPU emulation of ``_cuda_emulator``. The whole parity module takes
minutes (the emulation is slow), which is why the default suite does not run
it. Nothing happens unless the plugin is named with ``-p``: the patching is
in ``pytest_configure``, so importing this file (as ``--doctest-modules``
does) changes nothing.
"""

from __future__ import annotations

import sys
import types

import numpy as np


class FakeDeviceArray(np.ndarray):
    """A NumPy array that mmfuse takes for a CuPy array."""

    def get(self):
        return np.array(self).view(np.ndarray)


FakeDeviceArray.__module__ = "cupy._core.core"


def _to_device(x):
    if isinstance(x, np.ndarray) and not isinstance(x, FakeDeviceArray):
        return x.view(FakeDeviceArray)
    if isinstance(x, tuple | list):
        return type(x)(_to_device(v) for v in x)
    return x


class _FakeModule(types.ModuleType):
    """NumPy's functions, returning fake device arrays (types and ufuncs as is)."""

    def __init__(self, name, base):
        super().__init__(name)
        self._base = base

    def __getattr__(self, attr):
        value = getattr(self._base, attr)
        if callable(value) and not isinstance(value, type | np.ufunc):
            def wrapped(*args, **kwargs):
                return _to_device(value(*args, **kwargs))

            return wrapped
        return value


def make_fake_cupy() -> types.ModuleType:
    cupy = _FakeModule("cupy", np)
    cupy.ndarray = FakeDeviceArray
    cupy.asnumpy = lambda a: np.array(a).view(np.ndarray)
    cupy.asarray = lambda a, dtype=None: _to_device(np.array(a, dtype=dtype))
    cupy.random = _FakeModule("cupy.random", np.random)
    cupy.linalg = _FakeModule("cupy.linalg", np.linalg)
    return cupy


def pytest_configure(config):
    from _cuda_emulator import EmulatedLauncher

    from mmfuse.backend import _cupy_kernels, _namespace

    cupy = make_fake_cupy()
    sys.modules["cupy"] = cupy
    _namespace._probe_cupy = lambda: (cupy, None)
    _cupy_kernels._launch = EmulatedLauncher(_cupy_kernels.KERNEL_SOURCE)
    _cupy_kernels._MAX_BLOCKS = 3  # grid-stride loops run more than once

"""The CUDA source of the GPU kernels compiles, without a GPU.

``nvcc`` (any CUDA toolkit) compiles every build (precision x top-k
capacity) of ``mmfuse.backend._cupy_kernels.KERNEL_SOURCE`` to device code
with warnings as errors, and ptxas reports the static shared memory of the
top-k kernel, which must stay within the 48 KiB a block may declare. NVRTC,
the compiler CuPy uses at run time, is tried too where its library can be
found (``$MMFUSE_NVRTC`` or the ``nvidia-cuda-nvrtc-cu12`` wheel). Each test
skips when its compiler is absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
from _cuda_emulator import all_builds_source, build_tag

from mmfuse.backend._cupy_kernels import (
    _TOPK_BUILDS,
    KERNEL_NAMES,
    KERNEL_SOURCE,
    compile_options,
)

BUILDS = [(double, kcap) for double in (False, True) for kcap, _ in _TOPK_BUILDS]
_STATIC_SHARED_LIMIT = 48 * 1024


def _shared_memory(ptxas_log: str) -> dict:
    """Bytes of static shared memory per kernel from ``ptxas -v``."""
    usage, current = {}, None
    for line in ptxas_log.splitlines():
        name = re.search(r"Compiling entry function '(\w+)'", line)
        if name:
            current = name.group(1)
        if current and re.search(r"Used \d+ registers", line):
            smem = re.search(r"(\d+) bytes smem", line)  # absent: none used
            usage[current] = int(smem.group(1)) if smem else 0
    return usage


def test_every_build_compiles_with_nvcc(tmp_path):
    """All builds in one nvcc run (each in a namespace of its own)."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc (CUDA toolkit) not found")
    source = tmp_path / "kernels.cu"
    source.write_text(all_builds_source(KERNEL_SOURCE))
    cmd = [nvcc, "-c", "-arch=sm_80", "--Werror", "all-warnings", "-Xptxas", "-v",
           str(source), "-o", str(tmp_path / "kernels.o")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    usage = _shared_memory(result.stderr)  # ptxas -v reports on stderr
    for double, kcap in BUILDS:
        tag = build_tag(double, kcap)
        assert {f"{tag}_{name}" for name in KERNEL_NAMES} <= set(usage)
        threads = dict(_TOPK_BUILDS)[kcap]
        expected = threads * kcap * ((8 if double else 4) + 8)  # values + int64 indices
        assert usage[f"{tag}_mmfuse_topk_rows"] == expected <= _STATIC_SHARED_LIMIT
        assert all(usage[f"{tag}_{name}"] == 0 for name in KERNEL_NAMES
                   if name != "mmfuse_topk_rows")


def _find_nvrtc():
    candidates = [os.environ.get("MMFUSE_NVRTC", "")]
    for site in sys.path:
        candidates += glob.glob(os.path.join(site, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*"))
    candidates.append(ctypes.util.find_library("nvrtc") or "")
    for path in filter(None, candidates):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def test_kernels_compile_with_nvrtc():
    lib = _find_nvrtc()
    if lib is None:
        pytest.skip("NVRTC library not found (set MMFUSE_NVRTC or install nvidia-cuda-nvrtc-cu12)")
    for double, kcap in BUILDS:
        program = ctypes.c_void_p()
        assert lib.nvrtcCreateProgram(ctypes.byref(program), KERNEL_SOURCE.encode(), b"k.cu", 0,
                                      None, None) == 0
        options = [b"-arch=compute_80", *(o.encode() for o in compile_options(double, kcap))]
        status = lib.nvrtcCompileProgram(program, len(options),
                                         (ctypes.c_char_p * len(options))(*options))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(program, log)
        assert status == 0, log.value.decode()
        lib.nvrtcGetPTXSize(program, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetPTX(program, ptx)
        lib.nvrtcDestroyProgram(ctypes.byref(program))
        for name in KERNEL_NAMES:
            assert f".entry {name}(".encode() in ptx.value, name

"""Run the CUDA source of mmfuse's GPU kernels on the CPU, for tests without a GPU.

The kernel source (``mmfuse.backend._cupy_kernels.KERNEL_SOURCE``) is
compiled with g++ (C++20) against a small shim: every CUDA thread of a block
is an OS thread, ``__syncthreads`` is a ``std::barrier`` over the block, warp
shuffles exchange through a per-warp buffer between two barriers over the
warp, ``atomicAdd`` is ``std::atomic_ref::fetch_add`` and ``__shared__``
variables are function statics (blocks run one after another). Threads that
return leave their barriers (``arrive_and_drop``), as exited GPU threads do.
Warps are not lock-step here: a kernel relying on implicit warp
synchronisation would fail, which is what we want to catch.

:class:`EmulatedLauncher` replaces ``_cupy_kernels._launch`` and checks every
argument against the kernel's C signature, the way the real launch would
silently misread it: pointers must be NumPy arrays of the pointee's dtype
(read-only arrays only for ``const`` pointers), scalars NumPy scalars of
exactly the parameter's type. Each array is copied into a buffer with
guard bytes around the memory it spans; reads past it see NaN / -1 (which
poisons results) and writes past it are reported.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SHIM = r"""
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

struct mm_dim3 { unsigned x = 1, y = 1, z = 1; };
static thread_local mm_dim3 threadIdx, blockIdx;
static mm_dim3 blockDim, gridDim;
static thread_local std::barrier<>* mm_block_barrier = nullptr;
static thread_local std::barrier<>* const* mm_warp_barriers = nullptr;
static unsigned long long mm_warp_slots[64][32];

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static

inline void __syncthreads() { mm_block_barrier->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) {
    mm_warp_barriers[threadIdx.x / 32]->arrive_and_wait();
}
template <class T> inline T __shfl_xor_sync(unsigned, T value, int lane_mask, int = 32) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    std::memcpy(&mm_warp_slots[warp][lane], &value, sizeof(T));
    mm_warp_barriers[warp]->arrive_and_wait();
    T out;
    std::memcpy(&out, &mm_warp_slots[warp][lane ^ lane_mask], sizeof(T));
    mm_warp_barriers[warp]->arrive_and_wait();
    return out;
}
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
inline double atomicAdd(double* p, double v) { return std::atomic_ref<double>(*p).fetch_add(v); }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline double __longlong_as_double(long long i) { double f; std::memcpy(&f, &i, 8); return f; }

// One OS thread per CUDA thread of a block; the same threads run the blocks
// one after another (all of a block finishes before the next starts, since
// __shared__ variables are statics). Each block has fresh barriers, which a
// thread leaves when it returns from the kernel.
template <class F> void mm_launch(unsigned grid, unsigned block, F body) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    const unsigned n_warps = (block + 31) / 32;
    std::vector<std::unique_ptr<std::barrier<>>> owned;
    std::vector<std::barrier<>*> block_barriers, warp_barriers;
    for (unsigned b = 0; b < grid; ++b) {
        owned.emplace_back(new std::barrier<>(block));
        block_barriers.push_back(owned.back().get());
        for (unsigned w = 0; w < n_warps; ++w) {
            owned.emplace_back(new std::barrier<>(block - 32 * w < 32 ? block - 32 * w : 32));
            warp_barriers.push_back(owned.back().get());
        }
    }
    std::barrier<> between_blocks(block);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < block; ++t) {
        threads.emplace_back([&, t] {
            threadIdx = {t, 1, 1};
            for (unsigned b = 0; b < grid; ++b) {
                blockIdx = {b, 1, 1};
                mm_block_barrier = block_barriers[b];
                mm_warp_barriers = warp_barriers.data() + b * n_warps;
                body();
                mm_warp_barriers[t / 32]->arrive_and_drop();
                mm_block_barrier->arrive_and_drop();
                between_blocks.arrive_and_wait();
            }
        });
    }
    for (auto& thread : threads) thread.join();
}
"""

_C_TYPES = {
    "float": (np.float32, ctypes.c_float),
    "double": (np.float64, ctypes.c_double),
    "int": (np.int32, ctypes.c_int),
    "i64": (np.int64, ctypes.c_longlong),
    "long long": (np.int64, ctypes.c_longlong),
}
_GUARD = 256


def compiler_available() -> bool:
    """Whether g++ with C++20 ``<barrier>`` is present."""
    gxx = shutil.which("g++")
    if gxx is None:
        return False
    probe = "#include <barrier>\nint main() { std::barrier<> b(1); b.arrive_and_wait(); }\n"
    result = subprocess.run([gxx, "-std=c++20", "-x", "c++", "-fsyntax-only", "-"],
                            input=probe, capture_output=True, text=True)
    return result.returncode == 0


def parse_kernels(source: str) -> dict:
    """``{name: [(c_type, is_pointer, is_const, param_name), ...]}`` of the kernels."""
    kernels = {}
    pattern = re.compile(r'extern "C" __global__ void (\w+)\((.*?)\)\s*\{', re.S)
    for name, params in pattern.findall(source):
        parsed = []
        for param in params.split(","):
            words = param.replace("*", " * ").split()
            is_const = "const" in words
            is_pointer = "*" in words
            words = [w for w in words if w not in ("const", "__restrict__", "*")]
            parsed.append((" ".join(words[:-1]), is_pointer, is_const, words[-1]))
        kernels[name] = parsed
    return kernels


def _span(arr: np.ndarray):
    """(lowest byte address, byte length) of the memory a strided view touches."""
    lo = hi = 0
    for size, stride in zip(arr.shape, arr.strides, strict=True):
        if size == 0:
            return arr.ctypes.data, 0
        reach = (size - 1) * stride
        lo += min(reach, 0)
        hi += max(reach, 0)
    return arr.ctypes.data + lo, hi - lo + arr.itemsize


class EmulatedLauncher:
    """Drop-in for ``_cupy_kernels._launch`` that runs the kernels on the CPU."""

    def __init__(self, source: str, build_dir: Path | None = None):
        self.source = source
        self.kernels = parse_kernels(source)
        # builds are keyed by a hash of their code, so a shared folder is a cache
        self.build_dir = Path(build_dir or Path(tempfile.gettempdir()) / "mmfuse_cuda_emu")
        self.build_dir.mkdir(parents=True, exist_ok=True)
        self._lib = None
        self.launches = []  # (name, grid, block) of every launch, for tests

    @staticmethod
    def _tag(double: bool, kcap: int) -> str:
        return f"{'d' if double else 'f'}{kcap}"

    def _build_code(self) -> str:
        """Every build (precision x top-k capacity) of the source in one unit.

        Each build sits in its own namespace with its macros defined around
        it and its kernels renamed ``<tag>_mmfuse_*``; one g++ run then
        compiles them all (the C++ headers are parsed once).
        """
        from mmfuse.backend._cupy_kernels import _TOPK_BUILDS, compile_options

        macros = set(re.findall(r"#define (\w+)", self.source))
        parts = [SHIM]
        for double in (False, True):
            for kcap, _ in _TOPK_BUILDS:
                tag = self._tag(double, kcap)
                defines = []
                for option in compile_options(double, kcap):
                    name, _, value = option[2:].partition("=")
                    defines.append(f"#define {name} {value}".rstrip())
                    macros.add(name)
                wrappers = []
                for name, params in self.kernels.items():
                    decl = ", ".join(f"{'const ' if const else ''}{ctype}{'*' if ptr else ''} "
                                     f"{pname}" for ctype, ptr, const, pname in params)
                    call = ", ".join(pname for *_, pname in params)
                    wrappers.append(
                        f'extern "C" void emu_{tag}_{name}(unsigned grid, unsigned block, '
                        f"{decl}) {{\n    mm_launch(grid, block, [&] {{ {tag}_{name}({call}); }});"
                        "\n}\n")
                parts += [f"namespace {tag} {{", *defines,
                          self.source.replace("mmfuse_", f"{tag}_mmfuse_"), *wrappers,
                          *(f"#undef {m}" for m in sorted(macros)), "}"]
        return "\n".join(parts)

    def _library(self):
        if self._lib is not None:
            return self._lib
        code = self._build_code()
        digest = hashlib.sha1(code.encode()).hexdigest()[:16]
        lib_path = self.build_dir / f"kernels_{digest}.so"
        if not lib_path.exists():
            with tempfile.TemporaryDirectory(dir=self.build_dir) as tmp:
                src_path = Path(tmp) / "kernels.cpp"
                src_path.write_text(code)
                cmd = ["g++", "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-w",
                       str(src_path), "-o", str(Path(tmp) / "kernels.so")]
                result = subprocess.run(cmd, capture_output=True, text=True)
                if result.returncode != 0:
                    raise RuntimeError(f"emulator build failed:\n{result.stderr[-4000:]}")
                os.replace(Path(tmp) / "kernels.so", lib_path)  # atomic for parallel runs
        self._lib = ctypes.CDLL(str(lib_path))
        return self._lib

    def __call__(self, name, grid, block, args, *, double, kcap=8):
        params = self.kernels[name]
        if len(args) != len(params):
            raise TypeError(f"{name} takes {len(params)} arguments, got {len(args)}")
        real = np.float64 if double else np.float32
        lib = self._library()
        c_args, argtypes, buffers = [], [ctypes.c_uint, ctypes.c_uint], []
        for arg, (ctype, is_pointer, is_const, pname) in zip(args, params, strict=True):
            expected = real if ctype == "real_t" else _C_TYPES[ctype][0]
            if is_pointer:
                if not isinstance(arg, np.ndarray):
                    raise TypeError(f"{name}({pname}): expected an array, got {type(arg)}")
                if arg.dtype != expected:
                    raise TypeError(f"{name}({pname}): dtype {arg.dtype}, kernel reads "
                                    f"{np.dtype(expected)}")
                if not is_const and not arg.flags.writeable:
                    raise TypeError(f"{name}({pname}): kernel writes a read-only array")
                start, nbytes = _span(arg)
                guarded = np.full(nbytes + 2 * _GUARD, 0xFF, dtype=np.uint8)
                ctypes.memmove(guarded.ctypes.data + _GUARD, start, nbytes)
                buffers.append((start, nbytes, guarded, is_const, pname))
                c_args.append(ctypes.c_void_p(guarded.ctypes.data + _GUARD
                                              + arg.ctypes.data - start))
                argtypes.append(ctypes.c_void_p)
            else:
                if type(arg) is not np.dtype(expected).type:
                    raise TypeError(f"{name}({pname}): expected a {np.dtype(expected)} NumPy "
                                    f"scalar, got {type(arg).__name__}")
                ctype_ = ctypes.c_double if expected is np.float64 else (
                    ctypes.c_float if expected is np.float32 else _C_TYPES[ctype][1])
                c_args.append(ctype_(arg.item()))
                argtypes.append(ctype_)
        if not (1 <= grid and 1 <= block <= 1024):
            raise ValueError(f"{name}: bad launch configuration grid={grid} block={block}")
        function = getattr(lib, f"emu_{self._tag(bool(double), int(kcap))}_{name}")
        function.argtypes = argtypes
        function.restype = None
        self.launches.append((name, int(grid), int(block)))
        function(ctypes.c_uint(int(grid)), ctypes.c_uint(int(block)), *c_args)
        for start, nbytes, guarded, is_const, pname in buffers:
            if (guarded[:_GUARD] != 0xFF).any() or (guarded[_GUARD + nbytes:] != 0xFF).any():
                raise AssertionError(f"{name}({pname}): write outside the array")
            if not is_const:
                ctypes.memmove(start, guarded.ctypes.data + _GUARD, nbytes)
            elif not np.array_equal(guarded[_GUARD:_GUARD + nbytes],
                                    np.frombuffer(ctypes.string_at(start, nbytes), np.uint8)):
                raise AssertionError(f"{name}({pname}): kernel wrote to a const array")

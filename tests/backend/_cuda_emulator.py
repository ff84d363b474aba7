"""Run the CUDA source of mmfuse's GPU kernels on the CPU, for tests without a GPU.

The kernel source (``mmfuse.backend._cupy_kernels.KERNEL_SOURCE``) is
compiled with g++ against a small shim. Every CUDA thread of a block is a
fiber (``ucontext``) on one OS thread: a scheduler resumes the live threads in
turn, each running until it waits at a barrier or returns. ``__syncthreads``
and the warp barriers are counting barriers (a thread that returns leaves
them, as an exited GPU thread does), warp shuffles exchange through a
per-warp buffer between two warp barriers, ``__shared__`` variables are
function statics (blocks run one after another). Nothing spins and one core
is used. Warps are not lock-step here, so a kernel that relies on implicit
warp synchronisation, or reads shared memory another thread has not written
yet for lack of a barrier, computes wrong results; a barrier that some
threads never reach is reported as a deadlock.

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
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <ucontext.h>
#include <vector>

struct mm_dim3 { unsigned x = 1, y = 1, z = 1; };
static mm_dim3 threadIdx, blockIdx, blockDim, gridDim;

// Cooperative CUDA threads: every thread of a block is a fiber (ucontext) on
// the calling OS thread; a fiber runs until it waits at a barrier or ends.
struct mm_barrier { unsigned expected = 0, arrived = 0; unsigned long long generation = 0; };
static mm_barrier mm_block_barrier;
static mm_barrier mm_warp_barriers[32];
static unsigned long long mm_warp_slots[32][32];
static ucontext_t mm_scheduler;
static std::vector<ucontext_t> mm_contexts;
static std::vector<std::vector<char>> mm_stacks;
static std::vector<char> mm_done;
static unsigned mm_current = 0;
static unsigned long long mm_progress = 0;
static int mm_deadlock = 0;
static std::function<void()> mm_body;

static inline void mm_yield() { swapcontext(&mm_contexts[mm_current], &mm_scheduler); }
static inline void mm_wait(mm_barrier& b) {
    const unsigned long long generation = b.generation;
    ++mm_progress;
    if (++b.arrived == b.expected) { b.arrived = 0; ++b.generation; return; }
    while (b.generation == generation) mm_yield();
}
static inline void mm_drop(mm_barrier& b) {  // an exited thread no longer counts
    --b.expected;
    if (b.expected > 0 && b.arrived == b.expected) { b.arrived = 0; ++b.generation; }
}

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static

inline void __syncthreads() { mm_wait(mm_block_barrier); }
inline void __syncwarp(unsigned = 0xffffffffu) { mm_wait(mm_warp_barriers[threadIdx.x / 32]); }
template <class T> inline T __shfl_xor_sync(unsigned, T value, int lane_mask, int = 32) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    std::memcpy(&mm_warp_slots[warp][lane], &value, sizeof(T));
    mm_wait(mm_warp_barriers[warp]);
    T out;
    std::memcpy(&out, &mm_warp_slots[warp][lane ^ lane_mask], sizeof(T));
    mm_wait(mm_warp_barriers[warp]);
    return out;
}
inline float atomicAdd(float* p, float v) { float old = *p; *p = old + v; return old; }
inline double atomicAdd(double* p, double v) { double old = *p; *p = old + v; return old; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline double __longlong_as_double(long long i) { double f; std::memcpy(&f, &i, 8); return f; }

static void mm_entry() {
    mm_body();
    mm_drop(mm_warp_barriers[threadIdx.x / 32]);
    mm_drop(mm_block_barrier);
    ++mm_progress;
    mm_done[mm_current] = 1;
    swapcontext(&mm_contexts[mm_current], &mm_scheduler);  // never resumed
}

// Blocks run one after another; within a block the scheduler resumes every
// live thread in turn. A round in which no thread arrives at a barrier or
// ends is a deadlock (a barrier some threads never reach): the launch stops
// and emu_deadlock() reports it.
template <class F> void mm_launch(unsigned grid, unsigned block, F body) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    mm_body = body;
    mm_contexts.resize(block);
    mm_stacks.resize(block);
    mm_done.assign(block, 0);
    for (unsigned b = 0; b < grid && !mm_deadlock; ++b) {
        blockIdx = {b, 1, 1};
        mm_block_barrier = {block, 0, 0};
        for (unsigned w = 0; w * 32 < block; ++w)
            mm_warp_barriers[w] = {block - 32 * w < 32 ? block - 32 * w : 32, 0, 0};
        for (unsigned t = 0; t < block; ++t) {
            mm_stacks[t].resize(1 << 16);
            getcontext(&mm_contexts[t]);
            mm_contexts[t].uc_stack.ss_sp = mm_stacks[t].data();
            mm_contexts[t].uc_stack.ss_size = mm_stacks[t].size();
            mm_contexts[t].uc_link = nullptr;
            makecontext(&mm_contexts[t], mm_entry, 0);
            mm_done[t] = 0;
        }
        unsigned live = block;
        while (live > 0) {
            const unsigned long long before = mm_progress;
            for (unsigned t = 0; t < block; ++t) {
                if (mm_done[t]) continue;
                mm_current = t;
                threadIdx = {t, 1, 1};
                swapcontext(&mm_scheduler, &mm_contexts[t]);
                if (mm_done[t]) --live;
            }
            if (live > 0 && mm_progress == before) { mm_deadlock = 1; break; }
        }
    }
}

extern "C" int emu_deadlock() { const int d = mm_deadlock; mm_deadlock = 0; return d; }
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
    """Whether g++ with ``ucontext.h`` is present."""
    gxx = shutil.which("g++")
    if gxx is None:
        return False
    probe = "#include <ucontext.h>\nint main() { ucontext_t c; return getcontext(&c); }\n"
    result = subprocess.run([gxx, "-std=c++17", "-x", "c++", "-fsyntax-only", "-"],
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


def build_tag(double: bool, kcap: int) -> str:
    """Prefix of one build's kernels in :func:`all_builds_source`."""
    return f"{'d' if double else 'f'}{kcap}"


def all_builds_source(source: str, extra=lambda tag: ()) -> str:
    """Every build (precision x top-k capacity) of ``source`` in one unit.

    Each build sits in a namespace of its own with its macros defined around
    it and its kernels renamed ``<tag>_mmfuse_*``, so one compiler run checks
    them all (``extra(tag)`` adds code inside each namespace).
    """
    from mmfuse.backend._cupy_kernels import _TOPK_BUILDS, compile_options

    macros = set(re.findall(r"#define (\w+)", source))
    parts = []
    for double in (False, True):
        for kcap, _ in _TOPK_BUILDS:
            tag = build_tag(double, kcap)
            defines = []
            for option in compile_options(double, kcap):
                name, _, value = option[2:].partition("=")
                defines.append(f"#define {name} {value}".rstrip())
                macros.add(name)
            parts += [f"namespace {tag} {{", *defines, source.replace("mmfuse_", f"{tag}_mmfuse_"),
                      *extra(tag), *(f"#undef {m}" for m in sorted(macros)), "}"]
    return "\n".join(parts)


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

    _tag = staticmethod(lambda double, kcap: build_tag(double, kcap))

    def _build_code(self) -> str:
        """Every build of the source plus its launch wrappers, in one unit."""
        def wrappers(tag):
            out = []
            for name, params in self.kernels.items():
                decl = ", ".join(f"{'const ' if const else ''}{ctype}{'*' if ptr else ''} "
                                 f"{pname}" for ctype, ptr, const, pname in params)
                call = ", ".join(pname for *_, pname in params)
                out.append(
                    f'extern "C" void emu_{tag}_{name}(unsigned grid, unsigned block, '
                    f"{decl}) {{\n    mm_launch(grid, block, [&] {{ {tag}_{name}({call}); }});"
                    "\n}\n")
            return out

        return SHIM + "\n" + all_builds_source(self.source, wrappers)

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
                cmd = ["g++", "-std=c++17", "-O1", "-shared", "-fPIC", "-w",
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
        if lib.emu_deadlock():
            raise AssertionError(f"{name}: deadlock, a barrier that some threads never reach")
        for start, nbytes, guarded, is_const, pname in buffers:
            if (guarded[:_GUARD] != 0xFF).any() or (guarded[_GUARD + nbytes:] != 0xFF).any():
                raise AssertionError(f"{name}({pname}): write outside the array")
            if not is_const:
                ctypes.memmove(start, guarded.ctypes.data + _GUARD, nbytes)
            elif not np.array_equal(guarded[_GUARD:_GUARD + nbytes],
                                    np.frombuffer(ctypes.string_at(start, nbytes), np.uint8)):
                raise AssertionError(f"{name}({pname}): kernel wrote to a const array")

"""Device selection, output conversion and the CuPy-free import, without a GPU.

CuPy's presence is simulated by replacing the cached probe
(``_namespace._probe_cupy``); nothing here needs CuPy or a GPU.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mmfuse
from mmfuse.backend import DeviceUnavailableError, _namespace, get_namespace, to_output


class _FakeCupyArray:
    """Stands for a CuPy array: lives in a ``cupy`` module, copies out with ``get()``."""

    __module__ = "cupy._core.core"

    def __init__(self, values):
        self.values = np.asarray(values)
        self.gets = 0

    def get(self):
        self.gets += 1
        return self.values.copy()


@pytest.fixture
def no_gpu(monkeypatch):
    reason = "CuPy could not be imported (ImportError: No module named 'cupy')"
    monkeypatch.setattr(_namespace, "_probe_cupy", lambda: (None, reason))
    _namespace._log_auto_fallback.cache_clear()
    yield reason
    _namespace._log_auto_fallback.cache_clear()


@pytest.fixture
def fake_gpu(monkeypatch):
    module = type(sys)("cupy")
    monkeypatch.setattr(_namespace, "_probe_cupy", lambda: (module, None))
    return module


def test_auto_falls_back_to_cpu_with_one_info_message(no_gpu, caplog):
    with caplog.at_level(logging.INFO, logger="mmfuse"):
        for _ in range(3):
            assert get_namespace("auto") == (np, "cpu")
        with mmfuse.config_context(device="auto"):
            assert get_namespace() == (np, "cpu")
    messages = [r for r in caplog.records if r.name == "mmfuse"]
    assert len(messages) == 1
    assert messages[0].levelno == logging.INFO
    assert "device='auto' runs on the CPU" in messages[0].getMessage()
    assert no_gpu in messages[0].getMessage()


def test_gpu_without_a_gpu_raises_a_clear_error(no_gpu, caplog):
    with pytest.raises(DeviceUnavailableError) as info:
        get_namespace("gpu")
    text = str(info.value)
    assert "device='gpu'" in text and no_gpu in text and "mmfuse[gpu]" in text
    assert isinstance(info.value, RuntimeError)
    # an estimator asked to run on the GPU says the same, it does not fall back
    from mmfuse.encoding import BagOfWords

    sets = [np.random.default_rng(0).normal(size=(20, 4)) for _ in range(3)]
    with mmfuse.config_context(device="gpu"), pytest.raises(DeviceUnavailableError):
        BagOfWords(n_words=3, random_state=0).fit(sets).transform(sets)


def test_a_visible_gpu_is_selected(fake_gpu, caplog):
    with caplog.at_level(logging.INFO, logger="mmfuse"):
        assert get_namespace("gpu") == (fake_gpu, "gpu")
        assert get_namespace("auto") == (fake_gpu, "gpu")
        with mmfuse.config_context(device="auto"):
            assert get_namespace()[1] == "gpu"
    # no fallback message when the GPU is used
    assert not [r for r in caplog.records if r.name == "mmfuse"]
    assert get_namespace("cpu") == (np, "cpu")
    with pytest.raises(ValueError, match="device must be"):
        get_namespace("tpu")


def test_array_output_numpy_copies_device_arrays_out_once():
    device_array = _FakeCupyArray([1.0, 2.0])
    out = to_output(device_array)
    assert isinstance(out, np.ndarray) and device_array.gets == 1
    np.testing.assert_array_equal(out, [1.0, 2.0])
    with mmfuse.config_context(array_output="device"):
        assert to_output(device_array) is device_array
    assert device_array.gets == 1
    host = np.arange(3)
    assert to_output(host) is host


def test_package_imports_and_runs_with_cupy_absent(tmp_path):
    """``import cupy`` fails: mmfuse imports, the GPU module stays unloaded until
    needed, device='auto' falls back with one message and results are NumPy."""
    script = textwrap.dedent("""
        import logging, sys
        sys.modules["cupy"] = None  # any "import cupy" raises ImportError
        logging.basicConfig(level=logging.INFO, format="%(name)s:%(message)s")
        import numpy as np
        import mmfuse
        from mmfuse.backend import _cupy_kernels, _kmeans, cupy_available
        from mmfuse.encoding import BagOfWords
        assert not cupy_available()
        rng = np.random.default_rng(0)
        sets = [rng.normal(size=(30, 4)) for _ in range(4)]
        with mmfuse.config_context(device="auto"):
            codes = BagOfWords(n_words=3, random_state=0).fit(sets).transform(sets)
            codes = BagOfWords(n_words=3, random_state=0).fit(sets).transform(sets)
        assert type(codes) is np.ndarray and codes.shape == (4, 3)
        print("cupy loaded:", sys.modules["cupy"] is not None)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "cupy loaded: False" in result.stdout
    assert result.stderr.count("device='auto' runs on the CPU") == 1

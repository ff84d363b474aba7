import threading

import pytest

import mmfuse


def test_config_context_restores_and_validates():
    before = mmfuse.get_config()
    with mmfuse.config_context(device="auto", verbose=2, working_memory=8,
                               array_output="device"):
        cfg = mmfuse.get_config()
        assert (cfg["device"], cfg["verbose"], cfg["working_memory"], cfg["array_output"]) == (
            "auto", 2, 8, "device")
    assert mmfuse.get_config() == before
    with pytest.raises(ValueError, match="device"):
        mmfuse.set_config(device="tpu")
    with pytest.raises(ValueError, match="working_memory"):
        mmfuse.set_config(working_memory=0)
    with pytest.raises(ValueError, match="array_output"):
        mmfuse.set_config(array_output="torch")


def test_config_is_thread_local():
    seen = {}

    def worker():
        seen["device"] = mmfuse.get_config()["device"]

    with mmfuse.config_context(device="auto"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["device"] == "cpu"

"""Loader for the Free Spoken Digit Dataset (FSDD) from a local copy."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from mmfuse.datasets._base import locate_dataset

#: Sample rate of every FSDD recording, in Hz.
FSDD_SAMPLE_RATE = 8000
#: Takes with an index below this form the official test set.
FSDD_TEST_TAKES = 5

_NAME = re.compile(r"(?P<digit>[0-9])_(?P<speaker>[A-Za-z0-9-]+)_(?P<take>[0-9]+)\.wav")

_DESCR = """\
Free Spoken Digit Dataset (FSDD)
--------------------------------
Recordings of the spoken digits 0-9 in English, mono WAV at 8 kHz, named
``recordings/{digit}_{speaker}_{take}.wav``. The copy this loader was written
for holds 3,000 recordings: 6 speakers x 10 digits x 50 takes.

Official split: takes 0-4 of every speaker and digit are the test set (300
recordings), the others the training set. For a speaker-independent
estimate, group by ``speaker`` (e.g. ``sklearn.model_selection.LeaveOneGroupOut``).

Source: the FSDD repository by Z. Jackson et al. (Jakobovski/free-spoken-digit-dataset).
License: CC BY-SA 4.0. mmfuse never downloads it: copy it to a folder and
point ``path`` (or ``$MMFUSE_DATA``) at it.
"""


def load_fsdd(path=None, *, subset="all", load_audio=False):
    """Load the Free Spoken Digit Dataset from a local copy.

    Parameters
    ----------
    path : str or path-like, default=None
        The ``fsdd`` folder (the one holding ``recordings/``), or a folder
        holding ``fsdd/``. None uses ``$MMFUSE_DATA`` (see
        :func:`mmfuse.datasets.find_dataset`).
    subset : {"all", "train", "test"}, default="all"
        Which part of the official split to return: ``"test"`` is takes 0-4,
        ``"train"`` the rest.
    load_audio : bool, default=False
        False: ``audio`` holds the file paths (what
        :class:`mmfuse.audio.MFCCExtractor` reads). True: the decoded
        float32 samples at 8 kHz (read with :func:`mmfuse.io.read_audio`).

    Returns
    -------
    data : sklearn.utils.Bunch
        - ``audio``: list of str paths (or float32 arrays with `load_audio`).
        - ``target``: int array, the spoken digit.
        - ``speaker``: str array, the speaker id (group for speaker-independent splits).
        - ``take``: int array, the take index.
        - ``is_test``: bool array, True for the official test set (take < 5).
        - ``frame``: DataFrame with columns ``audio``, ``digit``, ``speaker``,
          ``take``, ``split`` (``"train"`` / ``"test"``).
        - ``speakers``: DataFrame of ``speakers.csv`` when present, else None.
        - ``target_names``: ``["0", ..., "9"]``.
        - ``sample_rate``: 8000.
        - ``DESCR``: description of the dataset.

    Recordings are sorted by digit, speaker and take.

    Raises
    ------
    FileNotFoundError
        If the dataset is not found, or ``recordings/`` holds no file named
        like ``{digit}_{speaker}_{take}.wav``.
    ValueError
        Unknown `subset`.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, soundfile as sf
    >>> from mmfuse.datasets import load_fsdd
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "fsdd"
    >>> (root / "recordings").mkdir(parents=True)
    >>> for name in ["3_ann_0.wav", "3_ann_7.wav", "8_bob_12.wav"]:
    ...     sf.write(root / "recordings" / name, np.zeros(800), 8000)
    >>> data = load_fsdd(root)
    >>> data.target.tolist(), data.speaker.tolist(), data.is_test.tolist()
    ([3, 3, 8], ['ann', 'ann', 'bob'], [True, False, False])
    >>> load_fsdd(root, subset="train", load_audio=True).audio[0].shape
    (800,)
    """
    if subset not in ("all", "train", "test"):
        raise ValueError(f"subset must be 'all', 'train' or 'test', got {subset!r}")
    folder = _locate(path)
    recordings = folder / "recordings"
    rows = []
    for file in recordings.iterdir() if recordings.is_dir() else ():
        match = _NAME.fullmatch(file.name)
        if match:
            rows.append((int(match["digit"]), match["speaker"], int(match["take"]), str(file)))
    if not rows:
        raise FileNotFoundError(
            f"FSDD: no recordings named {{digit}}_{{speaker}}_{{take}}.wav in {recordings}")
    rows.sort()
    frame = pd.DataFrame(rows, columns=["digit", "speaker", "take", "audio"])
    frame["split"] = np.where(frame["take"] < FSDD_TEST_TAKES, "test", "train")
    if subset != "all":
        frame = frame[frame["split"] == subset].reset_index(drop=True)
    frame = frame[["audio", "digit", "speaker", "take", "split"]]

    audio = frame["audio"].tolist()
    if load_audio:
        from mmfuse.io import read_audio

        audio = [read_audio(file, sr=FSDD_SAMPLE_RATE)[0] for file in audio]
    speakers_csv = folder / "speakers.csv"
    return Bunch(
        audio=audio,
        target=frame["digit"].to_numpy(dtype=np.int64),
        speaker=frame["speaker"].to_numpy(dtype=object).astype(str),
        take=frame["take"].to_numpy(dtype=np.int64),
        is_test=(frame["split"] == "test").to_numpy(),
        frame=frame,
        speakers=pd.read_csv(speakers_csv) if speakers_csv.is_file() else None,
        target_names=[str(d) for d in range(10)],
        sample_rate=FSDD_SAMPLE_RATE,
        DESCR=_DESCR,
    )


def _locate(path) -> Path:
    return locate_dataset("fsdd", path, marker="recordings", title="FSDD",
                          what="the Free Spoken Digit Dataset", contents="'recordings/'")

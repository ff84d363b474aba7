"""Loader for MVSA Twitter (tweets with their photos, labelled by sentiment) from a local copy."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from mmfuse.datasets._base import locate_dataset

#: Sentiment labels, in the order of ``target``.
MVSA_LABELS = ("negative", "neutral", "positive")

_DESCR = """\
MVSA Twitter (course subset of MVSA-Single, Niu et al., MMM 2016)
------------------------------------------------------------------
Tweets with the photo posted in each: ``images/<guid>.jpg`` and
``texts/<guid>.txt`` (the tweet as posted, one line, with @mentions,
#hashtags and t.co links). ``labels.csv`` holds ``guid,label,split``: label
``positive``, ``negative`` or ``neutral``; the fixed, stratified split to
report on is the ``split`` column (3,200 train / 800 test in the copy this
loader was written for). Photos are real and varied (people, screenshots,
memes, scenery; flat areas, tiny images), downscaled so that the longer side
is at most 320 px.

Some text files are not valid UTF-8 (stray bytes from a GBK re-encoding):
they are decoded with replacement characters, counted in ``n_replaced`` and
reported with a warning; nothing is dropped.

Source: the "multimodal-sentiment-analysis" repository by liyunfan1223
(drawn from MVSA). No license is stated there; the tweets and photos are
public social-media posts collected for research: use them for local
benchmarks only and never redistribute them. mmfuse never downloads it.
"""


def load_mvsa_twitter(path=None, *, subset="all"):
    """Load MVSA Twitter (tweet texts + their photos, 3 sentiment classes) from a local copy.

    Parameters
    ----------
    path : str or path-like, default=None
        The ``mvsa_twitter`` folder (the one holding ``labels.csv``), or a
        folder holding ``mvsa_twitter/``. None uses ``$MMFUSE_DATA`` (see
        :func:`mmfuse.datasets.find_dataset`).
    subset : {"all", "train", "test"}, default="all"
        Which part of the fixed split (the ``split`` column) to return.

    Returns
    -------
    data : sklearn.utils.Bunch
        - ``frame``: DataFrame with columns ``image`` (photo path), ``text``
          (the tweet), ``label``, ``split`` and ``guid``, in ``labels.csv``
          order: the input of a fusion estimator
          (``columns="image"`` / ``"text"``).
        - ``target``: int array, index into ``target_names``.
        - ``target_names``: ``["negative", "neutral", "positive"]``.
        - ``n_replaced``: number of texts that were not valid UTF-8 and were
          decoded with replacement characters.
        - ``DESCR``: description of the dataset.

    Raises
    ------
    FileNotFoundError
        If the dataset is not found, or a listed photo or text is missing
        (the message names the first missing files).
    ValueError
        Unknown ``subset``, or a label outside the three sentiments.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from mmfuse.datasets import load_mvsa_twitter
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "mvsa_twitter"
    >>> (root / "images").mkdir(parents=True); (root / "texts").mkdir()
    >>> rows = "guid,label,split\\n1,positive,train\\n2,neutral,test\\n"
    >>> _ = (root / "labels.csv").write_text(rows)
    >>> for guid, text in [(1, b"sunny day :)"), (2, b"caf\\xe9 again")]:
    ...     _ = (root / "images" / f"{guid}.jpg").write_bytes(b"")
    ...     _ = (root / "texts" / f"{guid}.txt").write_bytes(text)
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     data = load_mvsa_twitter(root)
    >>> data.frame["text"][0], data.target.tolist(), data.n_replaced
    ('sunny day :)', [2, 1], 1)
    """
    if subset not in ("all", "train", "test"):
        raise ValueError(f"subset must be 'all', 'train' or 'test', got {subset!r}")
    folder = _locate(path)
    table = pd.read_csv(folder / "labels.csv", dtype={"guid": str})
    unknown = sorted(set(table["label"]) - set(MVSA_LABELS))
    if unknown:
        raise ValueError(f"MVSA Twitter: labels.csv has unknown labels {unknown}")
    if subset != "all":
        table = table[table["split"] == subset].reset_index(drop=True)
    images = [folder / "images" / f"{guid}.jpg" for guid in table["guid"]]
    text_files = [folder / "texts" / f"{guid}.txt" for guid in table["guid"]]
    missing = [str(p) for p in images + text_files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"MVSA Twitter: {len(missing)} listed files are missing, e.g. "
                                f"{missing[:3]}")
    texts, replaced = [], []
    for guid, file in zip(table["guid"], text_files, strict=True):
        raw = file.read_bytes()
        try:
            texts.append(raw.decode("utf-8").strip())
        except UnicodeDecodeError:
            texts.append(raw.decode("utf-8", errors="replace").strip())
            replaced.append(guid)
    if replaced:
        warnings.warn(f"MVSA Twitter: {len(replaced)} of {len(texts)} texts are not valid UTF-8 "
                      f"and were decoded with replacement characters (e.g. guid "
                      f"{', '.join(replaced[:3])})", UnicodeWarning, stacklevel=2)
    frame = pd.DataFrame({"image": [str(p) for p in images], "text": texts,
                          "label": table["label"].to_numpy(), "split": table["split"].to_numpy(),
                          "guid": table["guid"].to_numpy()})
    codes = {name: i for i, name in enumerate(MVSA_LABELS)}
    return Bunch(frame=frame, target=np.array([codes[v] for v in frame["label"]], np.int64),
                 target_names=list(MVSA_LABELS), n_replaced=len(replaced), DESCR=_DESCR)


def _locate(path) -> Path:
    return locate_dataset("mvsa_twitter", path, marker="labels.csv", title="MVSA Twitter",
                          what="it", contents="labels.csv, images/ and texts/")

"""Image-text folders in the layout of the Wikipedia cross-modal dataset (Rasiwasia et al. 2010).

The layout::

    <root>/categories.list                one category name per line (ids are 1-based)
    <root>/trainset_txt_img_cat.list      text_id <TAB> image_id <TAB> category id
    <root>/testset_txt_img_cat.list       the same, for the test split
    <root>/texts/<text_id>.xml or .txt    the documents
    <root>/images/<category>/<image_id>.jpg   the images (optional for load_wikipedia)
    <root>/raw_features.mat               the authors' features (load_wikipedia only)

The released XML files are not all well-formed (bare ``&`` and HTML entities
such as ``&nbsp;``), so a document that the XML parser refuses is read
leniently: the ``<text>`` element is cut out with a regular expression and its
entities decoded with :func:`html.unescape` (on the well-formed files this
gives exactly what the XML parser gives).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from mmfuse.datasets._base import find_dataset
from mmfuse.exceptions import MediaError
from mmfuse.io import read_text

WIKIPEDIA_NAME = "wikipedia_xmodal"
SPLIT_FILES = {"train": "trainset_txt_img_cat.list", "test": "testset_txt_img_cat.list"}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff")
_TEXT_RE = re.compile(r"<text>(.*?)</text>", re.DOTALL)
_DOCUMENT_RE = re.compile(r"<document\b([^>]*)>", re.DOTALL)
_ATTRIBUTE_RE = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def parse_document(source: str) -> tuple[str, dict, bool]:
    """Text and ``<document>`` attributes of one Wikipedia-style XML document.

    Parameters
    ----------
    source : str
        The file's content.

    Returns
    -------
    text : str
        Content of the ``<text>`` element, entities decoded.
    attributes : dict of str to str
        Attributes of the root ``<document>`` element (``id``, ``name``, ...).
    lenient : bool
        True when the XML parser refused the document and it was read with
        the lenient fallback.

    Raises
    ------
    ValueError
        When even the lenient reader finds no ``<text>`` element.

    Examples
    --------
    >>> from mmfuse.datasets._wikipedia import parse_document
    >>> parse_document('<document name="A"><text>Salt &amp; pepper</text></document>')
    ('Salt & pepper', {'name': 'A'}, False)
    >>> parse_document('<document name="B"><text>Salt & pepper&nbsp;!</text></document>')
    ('Salt & pepper\\xa0!', {'name': 'B'}, True)
    """
    try:
        root = ET.fromstring(source)
    except ET.ParseError:
        match = _TEXT_RE.search(source)
        if match is None:
            raise ValueError("no <text> element, even read leniently") from None
        head = _DOCUMENT_RE.search(source)
        attributes = {}
        if head is not None:
            attributes = {k: html.unescape(v) for k, v in _ATTRIBUTE_RE.findall(head.group(1))}
        return html.unescape(match.group(1)), attributes, True
    node = root.find("text") if root.tag != "text" else root
    if node is None:
        raise ValueError("no <text> element")
    return node.text or "", dict(root.attrib), False


def _read_list(path: Path) -> list[tuple[str, str, int]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(
                f"{path.name} line {number}: expected text_id<TAB>image_id<TAB>category, "
                f"got {line!r}"
            )
        try:
            category = int(parts[2])
        except ValueError:
            raise ValueError(
                f"{path.name} line {number}: category {parts[2]!r} is not an integer"
            ) from None
        rows.append((parts[0].strip(), parts[1].strip(), category))
    return rows


def _read_document(texts_dir: Path, text_id: str, index: int) -> tuple[str, str, bool]:
    """Return (text, title, lenient) of one document, from .xml or .txt."""
    for suffix in (".xml", ".txt"):
        path = texts_dir / f"{text_id}{suffix}"
        if path.is_file():
            break
    else:
        raise MediaError(
            f"no file texts/{text_id}.xml or texts/{text_id}.txt",
            modality="text", sample=index, source=str(texts_dir / text_id),
        )
    content = read_text(path, errors="replace")
    if suffix == ".txt":
        return content, "", False
    try:
        text, attributes, lenient = parse_document(content)
    except ValueError as exc:
        raise MediaError(str(exc), modality="text", sample=index, source=str(path)) from None
    return text, attributes.get("name", ""), lenient


def _find_image(images_dir: Path, category: str, image_id: str) -> Path | None:
    for folder in (images_dir / category, images_dir):
        for suffix in IMAGE_EXTENSIONS:
            path = folder / f"{image_id}{suffix}"
            if path.is_file():
                return path
    return None


def _check_subset(subset):
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}")
    return ("train", "test") if subset == "all" else (subset,)


def _load_folder(root, subset, on_missing_image, images_optional):
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {str(root)!r} does not exist")
    splits = _check_subset(subset)
    if on_missing_image not in ("raise", "none"):
        raise ValueError(f"on_missing_image must be 'raise' or 'none', got {on_missing_image!r}")
    categories_path = root / "categories.list"
    for needed in [categories_path] + [root / SPLIT_FILES[s] for s in splits]:
        if not needed.is_file():
            raise FileNotFoundError(
                f"{str(root)!r} lacks {needed.name}; expected the layout categories.list, "
                "trainset_txt_img_cat.list, testset_txt_img_cat.list, texts/, images/"
            )
    target_names = [line.strip() for line in categories_path.read_text("utf-8").splitlines()
                    if line.strip()]
    texts_dir, images_dir = root / "texts", root / "images"
    have_images = images_dir.is_dir()
    if not have_images and not images_optional and on_missing_image == "raise":
        raise FileNotFoundError(f"{str(root)!r} has no images/ folder")

    records = []
    for split in splits:
        for text_id, image_id, category in _read_list(root / SPLIT_FILES[split]):
            if not 1 <= category <= len(target_names):
                raise ValueError(
                    f"{SPLIT_FILES[split]}: category {category} for text {text_id!r} is "
                    f"outside 1..{len(target_names)} (categories.list)"
                )
            records.append((text_id, image_id, category - 1, split))
    if not records:
        raise ValueError(f"{str(root)!r}: the {subset!r} split lists no documents")

    texts, titles, images = [], [], []
    n_lenient = n_missing_images = 0
    for index, (text_id, image_id, target, _) in enumerate(records):
        text, title, lenient = _read_document(texts_dir, text_id, index)
        texts.append(text)
        titles.append(title)
        n_lenient += lenient
        image = _find_image(images_dir, target_names[target], image_id) if have_images else None
        if image is None:
            if have_images and on_missing_image == "raise":
                raise MediaError(
                    f"no file images/{target_names[target]}/{image_id}.jpg (or another "
                    "image extension); pass on_missing_image='none' to keep the row with a "
                    "missing image",
                    modality="image", sample=index, source=str(images_dir),
                )
            n_missing_images += 1
        images.append(None if image is None else str(image))

    text_ids, image_ids, target, split = (np.array(column) for column in zip(*records,
                                                                              strict=True))
    frame = pd.DataFrame({"image": pd.Series(images, dtype=object),
                          "text": pd.Series(texts, dtype=object)})
    return Bunch(
        frame=frame,
        target=target.astype(np.int64),
        target_names=np.array(target_names, dtype=object),
        split=split.astype(object),
        text_ids=text_ids.astype(object),
        image_ids=image_ids.astype(object),
        titles=np.array(titles, dtype=object),
        n_lenient_xml=int(n_lenient),
        n_missing_images=int(n_missing_images),
        path=root,
    )


def load_image_text_folder(path, *, subset="all", on_missing_image="raise"):
    """Load an image-text dataset laid out like the Wikipedia cross-modal dataset.

    The folder holds ``categories.list``, ``trainset_txt_img_cat.list`` and
    ``testset_txt_img_cat.list`` (lines ``text_id<TAB>image_id<TAB>category``,
    categories numbered from 1 in ``categories.list`` order),
    ``texts/<text_id>.xml`` (Wikipedia-style ``<document><text>...``, parsed
    leniently when malformed) or ``texts/<text_id>.txt``, and
    ``images/<category>/<image_id>.jpg`` (any common image extension; also
    looked up directly under ``images/``). The returned frame feeds mmfuse's
    image and text pipelines directly, e.g. SIFT + bag of words on the image
    column.

    Parameters
    ----------
    path : str or path-like
        The dataset folder.
    subset : {"all", "train", "test"}, default="all"
        Which split to load; "all" gives the training rows then the test rows.
    on_missing_image : {"raise", "none"}, default="raise"
        A listed image without a file raises :class:`~mmfuse.exceptions.MediaError`
        naming the row, or (``"none"``) becomes a missing cell (``None``),
        counted in ``n_missing_images``.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``frame`` (DataFrame with columns ``image`` -- file path or None --
        and ``text``), ``target`` (int, 0-based category), ``target_names``,
        ``split`` ("train"/"test" per row), ``text_ids``, ``image_ids``,
        ``titles`` (the document's ``name`` attribute, "" for .txt),
        ``n_lenient_xml`` (documents read by the lenient fallback),
        ``n_missing_images`` and ``path``.

    Raises
    ------
    FileNotFoundError
        Missing folder, list files or ``images/`` folder.
    MediaError
        A listed text (or image, with ``on_missing_image="raise"``) has no
        file, or a document has no ``<text>`` element; names the row.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from mmfuse.datasets import load_image_text_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "categories.list").write_text("cats\\ndogs\\n")
    >>> _ = (root / "trainset_txt_img_cat.list").write_text("t1\\ti1\\t1\\nt2\\ti2\\t2\\n")
    >>> _ = (root / "testset_txt_img_cat.list").write_text("t3\\ti3\\t2\\n")
    >>> (root / "texts").mkdir()
    >>> _ = (root / "texts" / "t1.txt").write_text("a cat")
    >>> xml = "<document><text>a dog & a ball</text></document>"  # bare &: malformed
    >>> _ = (root / "texts" / "t2.xml").write_text(xml)
    >>> _ = (root / "texts" / "t3.txt").write_text("another dog")
    >>> (root / "images").mkdir()
    >>> data = load_image_text_folder(root, on_missing_image="none")
    >>> data.frame["text"].tolist(), data.target.tolist(), data.split.tolist()
    (['a cat', 'a dog & a ball', 'another dog'], [0, 1, 1], ['train', 'train', 'test'])
    >>> data.n_lenient_xml, data.n_missing_images
    (1, 3)
    """
    return _load_folder(path, subset, on_missing_image, images_optional=False)


def load_wikipedia(path=None, *, subset="all"):
    """Load the Wikipedia cross-modal dataset (Rasiwasia et al., ACM MM 2010).

    2,866 image-text documents in 10 categories with the official split
    (2,173 train, 693 test), the raw texts (888 of the released XML files are
    malformed and are read leniently), and the authors' features from
    ``raw_features.mat``: 128-d SIFT bag-of-words image histograms (``I``),
    10-d LDA text topics (``T``) and, when present, 1,000-d TF-IDF.
    mmfuse never downloads it; see ``datasets/README.md``.

    Parameters
    ----------
    path : str or path-like, default=None
        The ``wikipedia_xmodal`` folder, or a folder holding it. None looks in
        ``$MMFUSE_DATA`` (:func:`~mmfuse.datasets.find_dataset`).
    subset : {"all", "train", "test"}, default="all"
        Which split to load; "all" gives the training rows then the test rows.

    Returns
    -------
    data : sklearn.utils.Bunch
        Everything :func:`load_image_text_folder` returns (the ``image``
        column holds paths when an ``images/`` folder exists, else None), plus
        ``image_features`` (n, 128), ``text_features`` (n, 10) and
        ``text_tfidf`` (n, 1000, or None when absent), rows aligned with
        ``frame``.

    Raises
    ------
    FileNotFoundError
        When the dataset cannot be found or lacks ``raw_features.mat``.

    Examples
    --------
    >>> from mmfuse.datasets import find_dataset, load_wikipedia
    >>> if find_dataset("wikipedia_xmodal") is not None:  # only with the data
    ...     data = load_wikipedia(subset="test")
    ...     assert data.image_features.shape == (693, 128)
    """
    root = _resolve_wikipedia(path)
    data = _load_folder(root, subset, on_missing_image="none", images_optional=True)
    mat_path = root / "raw_features.mat"
    if not mat_path.is_file():
        raise FileNotFoundError(f"{str(root)!r} lacks raw_features.mat (the authors' features)")
    from scipy.io import loadmat

    mat = loadmat(mat_path)

    def stack(name):
        parts = [f"{name}_{'tr' if s == 'train' else 'te'}" for s in _check_subset(subset)]
        if not all(p in mat for p in parts):
            return None
        return np.vstack([np.asarray(mat[p], dtype=np.float64) for p in parts])

    data.image_features = stack("I")
    data.text_features = stack("T")
    data.text_tfidf = stack("T_tfidf")
    for name in ("image_features", "text_features"):
        if data[name] is None or data[name].shape[0] != len(data.frame):
            raise ValueError(
                f"raw_features.mat: {name} does not have one row per listed document "
                f"({len(data.frame)})"
            )
    return data


def _resolve_wikipedia(path) -> Path:
    if path is not None:
        path = Path(path).expanduser()
        if (path / "categories.list").is_file():
            return path
    found = find_dataset(WIKIPEDIA_NAME, data_dir=path)
    if found is None:
        where = "$MMFUSE_DATA" if path is None else repr(str(path))
        raise FileNotFoundError(
            f"the {WIKIPEDIA_NAME} dataset was not found in {where}; copy it there "
            "(see datasets/README.md) or pass its folder"
        )
    return found

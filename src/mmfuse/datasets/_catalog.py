"""What real datasets mmfuse knows, what uses them, and which are found."""

from __future__ import annotations

from typing import NamedTuple

from mmfuse.datasets._base import find_dataset, get_data_home


class DatasetInfo(NamedTuple):
    name: str
    title: str
    marker: str
    loader: str
    used_by: tuple[str, ...]


#: The real datasets: folder name under the data home, what identifies it, the
#: loader, and the benchmark suites / scripts that read it. Cards: datasets/<name>.md.
CATALOG = (
    DatasetInfo("fsdd", "Free Spoken Digit Dataset (3,000 recordings)", "recordings",
                "load_fsdd", ("bench --suite sequence", "bench --suite classification "
                              "(av_digits, with mnist)", "benchmarks/fsdd.py",
                              "benchmarks/defaults.py")),
    DatasetInfo("mnist", "MNIST handwritten digits", "t10k-images-idx3-ubyte.gz", "load_mnist",
                ("bench --suite classification (av_digits, with fsdd)",
                 "benchmarks/mnist_encoders.py", "benchmarks/few_labels.py")),
    DatasetInfo("wikipedia_xmodal", "Wikipedia cross-modal set (2,866 image-text pairs)",
                "trainset_txt_img_cat.list", "load_wikipedia",
                ("bench --suite retrieval", "bench --suite classification (wikipedia)",
                 "benchmarks/retrieval_wikipedia.py", "benchmarks/few_labels.py")),
    DatasetInfo("mvsa_twitter", "MVSA Twitter (4,000 tweets with their photos)", "labels.csv",
                "load_mvsa_twitter", ("benchmarks/fusion_mvsa.py",
                                      "benchmarks/feature_cache.py",
                                      "docs/tutorials/12_real_photos_and_texts.py")),
    DatasetInfo("grocery_store", "Grocery Store (5,421 product photos)", "train.txt", "",
                ("benchmarks/pyramid_defaults.py", "benchmarks/defaults.py")),
)


def dataset_status(data_dir=None) -> list[dict]:
    """Each catalogued dataset with where it was found (None when absent).

    Parameters
    ----------
    data_dir : str or path-like, default=None
        Folder holding the datasets; defaults to ``$MMFUSE_DATA``.

    Returns
    -------
    status : list of dict
        ``name``, ``title``, ``path`` (str or None), ``complete`` (its marker
        entry exists), ``loader`` and ``used_by``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from mmfuse.datasets import dataset_status
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "fsdd" / "recordings").mkdir(parents=True)
    >>> [(s["name"], s["complete"]) for s in dataset_status(root)][:2]
    [('fsdd', True), ('mnist', False)]
    """
    out = []
    for info in CATALOG:
        path = find_dataset(info.name, data_dir)
        out.append({"name": info.name, "title": info.title,
                    "path": None if path is None else str(path),
                    "complete": path is not None and (path / info.marker).exists(),
                    "loader": info.loader, "used_by": list(info.used_by)})
    return out


def describe_datasets(data_dir=None) -> str:
    """A readable report of :func:`dataset_status` (what ``mmfuse datasets`` prints)."""
    home = get_data_home(data_dir)
    lines = [f"data home: {home if home is not None else '(unset: pass --data-dir or set '}"
             + ("" if home is not None else "$MMFUSE_DATA)"), ""]
    for status in dataset_status(data_dir):
        if status["complete"]:
            state = f"found at {status['path']}"
        elif status["path"]:
            state = f"INCOMPLETE at {status['path']} (no {_marker(status['name'])})"
        else:
            state = "missing"
        lines.append(f"{status['name']:17s} {state}")
        lines.append(f"{'':17s} {status['title']}; card: datasets/{status['name']}.md")
        lines.append(f"{'':17s} used by: {', '.join(status['used_by'])}")
    return "\n".join(lines)


def _marker(name: str) -> str:
    return next(info.marker for info in CATALOG if info.name == name)

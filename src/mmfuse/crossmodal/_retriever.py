"""Image <-> text retrieval over a DataFrame: pipelines, a two-view method, two indexes."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from mmfuse.blocks import Blocks
from mmfuse.crossmodal._index import METRICS, CrossModalIndex
from mmfuse.crossmodal.metrics import (
    mean_average_precision,
    median_rank,
    precision_at_k,
    recall_at_k,
    relevance_from_labels,
    relevance_from_pairs,
)

DIRECTIONS = ("image->text", "text->image")


def default_image_pipeline(random_state=0):
    """Dense SIFT and a 128-word bag of visual words.

    Examples
    --------
    >>> from mmfuse.crossmodal._retriever import default_image_pipeline
    >>> [name for name, _ in default_image_pipeline().steps]
    ['sift', 'bow']
    """
    from sklearn.pipeline import Pipeline

    from mmfuse.encoding import BagOfWords
    from mmfuse.image import SIFTExtractor

    return Pipeline([("sift", SIFTExtractor(mode="dense", step=8, patch_size=16)),
                     ("bow", BagOfWords(n_words=128, random_state=random_state))])


def colour_histograms(images, *, hue_bins=12, saturation_bins=4):
    """Hue-saturation histogram of each image (OpenCV), L1-normalised.

    SIFT sees grey levels only; this small colour descriptor lets the demo's
    image features carry the colour that captions talk about. Missing cells
    (None/NaN) give all-zero rows.

    Parameters
    ----------
    images : sequence of image cells (arrays, paths or bytes)
    hue_bins, saturation_bins : int, default=12, 4

    Returns
    -------
    histograms : ndarray of shape (n_images, hue_bins * saturation_bins)

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.crossmodal._retriever import colour_histograms
    >>> red = np.zeros((8, 8, 3), np.uint8); red[..., 2] = 255
    >>> h = colour_histograms([red, None])
    >>> h.shape, float(h[0].sum()), float(h[1].sum())
    ((2, 48), 1.0, 0.0)
    """
    import cv2

    from mmfuse.exceptions import MediaError
    from mmfuse.io import read_image
    from mmfuse.utils import as_column, is_missing_cell

    cells = as_column(images, modality="image")
    out = np.zeros((len(cells), hue_bins * saturation_bins), dtype=np.float32)
    for index, cell in enumerate(cells):
        if is_missing_cell(cell):
            continue
        try:
            bgr = read_image(cell, color=True)
        except MediaError as exc:
            raise exc.at(modality="image", sample=index) from None
        hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [hue_bins, saturation_bins],
                            [0, 180, 0, 256]).ravel()
        out[index] = hist / max(float(hist.sum()), 1.0)
    return out


def demo_image_pipeline(random_state=0):
    """The ``mmfuse retrieve`` image features: RootSIFT bag of words + colour histogram.

    Examples
    --------
    >>> from mmfuse.crossmodal._retriever import demo_image_pipeline
    >>> [name for name, _ in demo_image_pipeline().transformer_list]
    ['sift', 'colour']
    """
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from mmfuse.encoding import BagOfWords
    from mmfuse.image import SIFTExtractor

    sift = Pipeline([("sift", SIFTExtractor(mode="sparse", rootsift=True)),
                     ("bow", BagOfWords(n_words=64, random_state=random_state))])
    return FeatureUnion([("sift", sift), ("colour", FunctionTransformer(colour_histograms))])


def default_text_pipeline():
    """NLTK-normalised TF-IDF with sublinear term frequencies.

    Examples
    --------
    >>> from mmfuse.crossmodal._retriever import default_text_pipeline
    >>> default_text_pipeline()
    TextVectorizer(sublinear_tf=True)
    """
    from mmfuse.text import TextVectorizer

    return TextVectorizer(sublinear_tf=True)


class CrossModalRetriever(BaseEstimator):
    """Search images by text and texts by image, over a DataFrame of pairs.

    ``fit`` runs an image pipeline on the image column and a text pipeline on
    the text column, fits a two-view `method` on the paired features, and
    indexes the fitted rows as the searchable database (replace it with
    :meth:`index`). :meth:`search` embeds a query of one modality and
    returns the best items of the other; :meth:`score` and :meth:`evaluate`
    measure retrieval both ways.

    Parameters
    ----------
    method : two-view estimator
        :class:`CCA`, :class:`KernelCCA`, :class:`PLS`, :class:`SemanticMatching`,
        :class:`SemanticCorrelationMatching` or :class:`RankingEmbedding`
        (anything with ``fit(X, Y, y)``, ``transform_x``, ``transform_y``).
        The image features are its first view, the text features its second.
    image_pipeline : transformer, default=None
        Image column -> feature matrix; None is dense SIFT + 128-word bag of
        words (:func:`default_image_pipeline`).
    text_pipeline : transformer, default=None
        Text column -> feature matrix; None is :class:`~mmfuse.text.TextVectorizer`
        with sublinear TF.
    metric : {"cosine", "inner_product", "correlation", "kl"}, default="cosine"
        Similarity of :class:`CrossModalIndex` in the shared space.
    image_column, text_column : str, default="image", "text"
        Columns of the DataFrame, or names of the blocks when ``X`` is a
        mapping of blocks (:class:`~mmfuse.blocks.Blocks`: each a list of
        media cells, a dense array or a sparse matrix, kept sparse); the
        rows of a mapping are identified by their positions.

    Attributes
    ----------
    image_pipeline_, text_pipeline_, method_ : fitted estimators
    image_index_ : CrossModalIndex
        Embedded images of the database (answers text queries).
    text_index_ : CrossModalIndex
        Embedded texts of the database (answers image queries).
    database_labels_ : pandas.Series or None
        Label of each database id, when known.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from mmfuse.crossmodal import CrossModalRetriever, SemanticMatching
    >>> from mmfuse.text import TextVectorizer
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1], 20)
    >>> frame = pd.DataFrame({
    ...     "image": list(np.eye(2)[labels] + 0.2 * rng.normal(size=(40, 2))),
    ...     "text": [["a cat sleeping", "a dog barking"][c] for c in labels]})
    >>> retriever = CrossModalRetriever(
    ...     SemanticMatching(), image_pipeline=FunctionTransformer(np.vstack),
    ...     text_pipeline=TextVectorizer()).fit(frame, labels)
    >>> hits = retriever.search(text="dog", k=3)
    >>> hits.columns.tolist(), hits["label"].tolist()
    (['query', 'rank', 'id', 'score', 'label'], [1, 1, 1])
    >>> round(retriever.score(frame, labels), 2)
    1.0
    """

    def __init__(self, method, *, image_pipeline=None, text_pipeline=None, metric="cosine",
                 image_column="image", text_column="text"):
        self.method = method
        self.image_pipeline = image_pipeline
        self.text_pipeline = text_pipeline
        self.metric = metric
        self.image_column = image_column
        self.text_column = text_column

    def _check_frame(self, X):
        if isinstance(X, (Mapping, Blocks)):
            X = Blocks(X)  # named blocks: dense, sparse (kept sparse) or media cells
        elif not isinstance(X, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame or a mapping of blocks with "
                            f"{self.image_column!r} and {self.text_column!r}, got "
                            f"{type(X).__name__}")
        missing = [c for c in (self.image_column, self.text_column) if c not in X.columns]
        if missing:
            raise ValueError(f"the DataFrame lacks column(s) {missing}; it has "
                             f"{list(X.columns)}")
        if len(X) == 0:
            raise ValueError("the DataFrame has no rows")
        return X

    def fit(self, X, y=None):
        """Fit both pipelines and the method on paired rows; index the rows.

        Parameters
        ----------
        X : pandas.DataFrame
            One image-text pair per row.
        y : array-like of shape (n_samples,), default=None
            Class labels (required by semantic matching; used as relevance
            by :meth:`score`).

        Returns
        -------
        self : CrossModalRetriever
        """
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        if self.method is None or not all(hasattr(self.method, m) for m in
                                          ("fit", "transform_x", "transform_y")):
            raise TypeError("method must be a two-view estimator with fit, transform_x and "
                            f"transform_y, got {type(self.method).__name__}")
        X = self._check_frame(X)
        self.image_pipeline_ = clone(self.image_pipeline if self.image_pipeline is not None
                                     else default_image_pipeline())
        self.text_pipeline_ = clone(self.text_pipeline if self.text_pipeline is not None
                                    else default_text_pipeline())
        images = _fit_transform(self.image_pipeline_, X[self.image_column])
        texts = _fit_transform(self.text_pipeline_, X[self.text_column])
        self.method_ = clone(self.method).fit(images, texts, y)
        self._set_database(self.method_.transform_x(images), self.method_.transform_y(texts),
                           X.index, y)
        return self

    def embed_images(self, images):
        """Embed a column of images into the shared space."""
        check_is_fitted(self, "method_")
        return self.method_.transform_x(self.image_pipeline_.transform(images))

    def embed_texts(self, texts):
        """Embed a column of texts into the shared space."""
        check_is_fitted(self, "method_")
        return self.method_.transform_y(self.text_pipeline_.transform(texts))

    def index(self, X, y=None):
        """Replace the searchable database by the rows of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            Rows to index; their DataFrame index becomes the result ids.
        y : array-like, default=None
            Labels, reported by :meth:`search`.

        Returns
        -------
        self : CrossModalRetriever
        """
        X = self._check_frame(X)
        self._set_database(self.embed_images(X[self.image_column]),
                           self.embed_texts(X[self.text_column]), X.index, y)
        return self

    def _set_database(self, image_vectors, text_vectors, ids, y):
        ids = list(ids)
        self.image_index_ = CrossModalIndex(self.metric)
        self.image_index_.add(image_vectors, ids=ids)
        self.text_index_ = CrossModalIndex(self.metric)
        self.text_index_.add(text_vectors, ids=ids)
        if y is None:
            self.database_labels_ = None
        else:
            y = np.asarray(y)
            if y.shape != (len(ids),):
                raise ValueError(f"y must hold one label per row ({len(ids)}), got shape "
                                 f"{y.shape}")
            self.database_labels_ = pd.Series(y, index=pd.Index(ids, dtype=object))

    def search(self, *, text=None, image=None, k=10):
        """The database items of the other modality that best match the queries.

        Parameters
        ----------
        text : str or list of str, default=None
            Text query (queries): returns images.
        image : image cell or list of image cells, default=None
            Image query (an array, path or bytes), or several in a list,
            tuple or Series: returns texts.
        k : int, default=10
            Results per query (at most the database size).

        Returns
        -------
        results : pandas.DataFrame
            Columns ``query`` (position of the query), ``rank`` (1 = best),
            ``id`` (DataFrame index of the database row), ``score``, and
            ``label`` when the database labels are known.
        """
        check_is_fitted(self, "method_")
        if (text is None) == (image is None):
            raise ValueError("give exactly one of text=... or image=...")
        if not isinstance(k, Integral) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        query = text if text is not None else image
        # A list, tuple or Series holds several queries; anything else is one cell.
        queries = list(query) if isinstance(query, (list, tuple, pd.Series)) else [query]
        if len(queries) == 0:
            raise ValueError("no query given (empty list)")
        if text is not None:
            vectors, index = self.embed_texts(queries), self.image_index_
        else:
            vectors, index = self.embed_images(queries), self.text_index_
        k = min(int(k), len(index))
        scores, ids = index.search(vectors, k=k)
        scores = np.asarray(scores)
        n_queries = scores.shape[0]
        results = pd.DataFrame({
            "query": np.repeat(np.arange(n_queries), k),
            "rank": np.tile(np.arange(1, k + 1), n_queries),
            "id": ids.ravel(),
            "score": scores.ravel().astype(np.float64),
        })
        if self.database_labels_ is not None:
            results["label"] = self.database_labels_.loc[results["id"]].to_numpy()
        return results

    def similarities(self, X):
        """Image-to-text and text-to-image score matrices among the rows of ``X``.

        Returns
        -------
        scores : dict
            ``{"image->text": (n, n), "text->image": (n, n)}``; entry
            ``[q, d]`` scores query row ``q`` against database row ``d``.
        """
        X = self._check_frame(X)
        image_vectors = self.embed_images(X[self.image_column])
        text_vectors = self.embed_texts(X[self.text_column])
        # float64: evaluation should not depend on float32 rounding of near-ties.
        images = CrossModalIndex(self.metric, dtype=np.float64)
        texts = CrossModalIndex(self.metric, dtype=np.float64)
        images.add(image_vectors)
        texts.add(text_vectors)
        return {"image->text": np.asarray(texts.similarity(image_vectors)),
                "text->image": np.asarray(images.similarity(text_vectors))}

    def evaluate(self, X, y=None, *, ks=(1, 5, 10)):
        """Retrieval quality among the rows of ``X``, both directions.

        Every image of ``X`` queries all texts of ``X`` and vice versa. With
        labels, an item is relevant when it has the query's label (the
        Wikipedia protocol); without, only the query's own pair is.

        Parameters
        ----------
        X : pandas.DataFrame
        y : array-like, default=None
        ks : tuple of int, default=(1, 5, 10)
            Cut-offs for precision@k and recall@k (those above ``len(X)``
            are skipped).

        Returns
        -------
        report : dict
            ``{"image->text": {"MAP": ..., "P@1": ..., "R@1": ...,
            "median rank": ...}, "text->image": {...}}``.
        """
        check_is_fitted(self, "method_")
        X = self._check_frame(X)
        n = len(X)
        if y is None:
            relevance = relevance_from_pairs(np.arange(n), np.arange(n))
        else:
            y = np.asarray(y)
            if y.shape != (n,):
                raise ValueError(f"y must hold one label per row ({n}), got shape {y.shape}")
            relevance = relevance_from_labels(y, y)
        report = {}
        for direction, scores in self.similarities(X).items():
            entry = {"MAP": mean_average_precision(scores, relevance)}
            for k in ks:
                if k <= n:
                    entry[f"P@{k}"] = precision_at_k(scores, relevance, k)
                    entry[f"R@{k}"] = recall_at_k(scores, relevance, k)
            entry["median rank"] = median_rank(scores, relevance)
            report[direction] = entry
        return report

    def score(self, X, y=None):
        """Mean of the image->text and text->image MAP among the rows of ``X``.

        A single number, so ``GridSearchCV`` can tune the retriever; both
        directions are in :meth:`evaluate`.

        Returns
        -------
        score : float
        """
        report = self.evaluate(X, y, ks=())
        return float(np.mean([report[d]["MAP"] for d in DIRECTIONS]))


def _fit_transform(pipeline, column):
    # A frozen (pre-fitted) pipeline has no fit_transform; fit is then a no-op.
    if hasattr(pipeline, "fit_transform"):
        return pipeline.fit_transform(column)
    return pipeline.fit(column, None).transform(column)


DEMO_METHODS = ("cca", "kcca", "pls", "sm", "scm", "ranking")


def demo_method(name, random_state=0):
    """A two-view method for the demo by short name (cca, kcca, pls, sm, scm, ranking).

    Examples
    --------
    >>> from mmfuse.crossmodal._retriever import demo_method
    >>> demo_method("cca")
    CCA(n_components=8, reg_x=0.1, reg_y=0.1)
    """
    from mmfuse.crossmodal._cca import CCA
    from mmfuse.crossmodal._kernel_cca import KernelCCA
    from mmfuse.crossmodal._pls import PLS
    from mmfuse.crossmodal._ranking import RankingEmbedding
    from mmfuse.crossmodal._semantic import SemanticCorrelationMatching, SemanticMatching

    methods = {
        "cca": lambda: CCA(n_components=8, reg_x=0.1, reg_y=0.1),
        "kcca": lambda: KernelCCA(n_components=8, n_approx_components=200,
                                  random_state=random_state),
        "pls": lambda: PLS(n_components=8),
        "sm": lambda: SemanticMatching(),
        "scm": lambda: SemanticCorrelationMatching(CCA(n_components=8, reg_x=0.1, reg_y=0.1)),
        "ranking": lambda: RankingEmbedding(n_components=16, learning_rate=0.01,
                                            max_epochs=100, random_state=random_state),
    }
    if name not in methods:
        raise ValueError(f"unknown method {name!r}; choose from {sorted(methods)}")
    return methods[name]()


def run_retrieve_demo(methods=("cca", "sm", "scm"), *, n_samples=300, k=5, query=None,
                      random_state=0, out=None):
    """Cross-modal retrieval on the built-in ``make_shapes`` data, as ``mmfuse retrieve`` runs it.

    Fits each method on a training split (:func:`demo_image_pipeline`:
    RootSIFT bag of words and a colour histogram for the images; TF-IDF for
    the captions), prints image->text and text->image MAP
    on the held-out split with scene labels as relevance, and shows the top
    ``k`` images for a text query with the last method.

    Parameters
    ----------
    methods : sequence of str, default=("cca", "sm", "scm")
        Short names, see :func:`demo_method`.
    n_samples : int, default=300
    k : int, default=5
    query : str, default=None
        Text query; None uses the caption of the first held-out sample.
    random_state : int, default=0
    out : file, default=None
        Where to print; None is ``sys.stdout`` at call time.

    Returns
    -------
    results : pandas.DataFrame
        MAP per method and direction, plus fit time.

    Examples
    --------
    >>> import io
    >>> from mmfuse.crossmodal import run_retrieve_demo
    >>> results = run_retrieve_demo(("cca",), n_samples=40, k=2, out=io.StringIO())
    >>> results.columns.tolist()[:2]
    ['image->text MAP', 'text->image MAP']
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import train_test_split

    from mmfuse.datasets import make_shapes

    if n_samples < 20:
        raise ValueError(f"n_samples must be at least 20, got {n_samples}")
    out = sys.stdout if out is None else out
    data = make_shapes(n_samples=n_samples, random_state=random_state)
    frame = data.frame[["image", "text"]]
    train, test, y_train, y_test = train_test_split(
        frame, data.target, test_size=0.3, stratify=data.target, random_state=random_state)
    names = np.asarray(data.target_names)
    print(f"make_shapes: {len(train)} training and {len(test)} held-out image-caption pairs, "
          f"{len(names)} scene classes", file=out)
    # Fit the feature pipelines once; every method then works on the same features.
    image_pipeline = FrozenEstimator(demo_image_pipeline(random_state).fit(train["image"]))
    text_pipeline = FrozenEstimator(default_text_pipeline().fit(train["text"]))
    rows, retriever = [], None
    for name in methods:
        start = time.perf_counter()
        retriever = CrossModalRetriever(
            demo_method(name, random_state),
            image_pipeline=image_pipeline,
            text_pipeline=text_pipeline,
        ).fit(train, y_train)
        fit_s = time.perf_counter() - start
        report = retriever.evaluate(test, y_test, ks=(k,))
        rows.append({"method": name,
                     "image->text MAP": report["image->text"]["MAP"],
                     "text->image MAP": report["text->image"]["MAP"],
                     f"image->text P@{k}": report["image->text"][f"P@{k}"],
                     f"text->image P@{k}": report["text->image"][f"P@{k}"],
                     "fit s": fit_s})
    results = pd.DataFrame(rows).set_index("method")
    # A random ranking finds relevant items at the rate they occur.
    chance = float(np.sum(np.bincount(y_test) ** 2) / len(y_test) ** 2)
    print(f"\nheld-out retrieval, relevant = same scene (chance MAP about {chance:.3f}):\n",
          file=out)
    print(results.to_string(float_format="{:.3f}".format), file=out)
    retriever.index(test, names[y_test])
    if query is None:
        query = test["text"].iloc[0]
    hits = retriever.search(text=query, k=k)
    print(f"\ntop {k} held-out images for the text {query!r} ({methods[-1]}):", file=out)
    print(hits[["rank", "id", "score", "label"]].to_string(index=False,
                                                         float_format="{:.3f}".format),
          file=out)
    return results


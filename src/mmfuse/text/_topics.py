"""Topic features of term matrices: LSA (truncated SVD) and LDA, named by their top terms."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import LatentDirichletAllocation, TruncatedSVD
from sklearn.preprocessing import normalize
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data


class _TopicTransformer(TransformerMixin, BaseEstimator):
    """Shared part of the topic transformers: naming topics by their top terms."""

    _prefix = "topic"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def top_terms(self, feature_names=None, n_terms=10):
        """The highest-weighted terms of every topic.

        Parameters
        ----------
        feature_names : array-like of str, default=None
            Names of the input columns, e.g. ``TextVectorizer.get_feature_names_out()``.
            None uses ``feature_names_in_`` when the input was a DataFrame,
            else ``x0``, ``x1``, ...
        n_terms : int, default=10
            Terms per topic.

        Returns
        -------
        terms : list of list of str
            For each topic, its `n_terms` terms by decreasing weight in
            ``components_``.
        """
        check_is_fitted(self, "components_")
        names = self._input_names(feature_names)
        order = np.argsort(-self.components_, axis=1, kind="stable")[:, :n_terms]
        return [[str(names[j]) for j in row] for row in order]

    def get_feature_names_out(self, input_features=None):
        """One name per topic: ``{prefix}{k}`` followed by its top terms.

        With input names known (passed in, as a Pipeline does after a
        :class:`~mmfuse.text.TextVectorizer`, or seen in a DataFrame), topic
        ``k`` is named ``"{prefix}{k}:term1+term2+term3"`` with its
        ``n_top_terms`` heaviest terms; otherwise ``"{prefix}{k}"``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Names of the input columns.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "components_")
        prefix = self._prefix
        known = input_features is not None or hasattr(self, "feature_names_in_")
        if not known or self.n_top_terms == 0:
            if input_features is not None:
                self._input_names(input_features)  # validates the length
            return np.asarray([f"{prefix}{k}" for k in range(self.components_.shape[0])],
                              dtype=object)
        terms = self.top_terms(input_features, n_terms=self.n_top_terms)
        return np.asarray([f"{prefix}{k}:" + "+".join(words) for k, words in enumerate(terms)],
                          dtype=object)

    def _input_names(self, feature_names):
        if feature_names is None:
            if hasattr(self, "feature_names_in_"):
                return np.asarray(self.feature_names_in_, dtype=object)
            return np.asarray([f"x{j}" for j in range(self.n_features_in_)], dtype=object)
        names = np.asarray(feature_names, dtype=object)
        if names.shape != (self.n_features_in_,):
            raise ValueError(
                f"input_features should have length {self.n_features_in_} (the number of input "
                f"columns seen in fit), got {names.shape[0] if names.ndim else 'a scalar'}")
        return names


class LSATopics(_TopicTransformer):
    """Latent semantic analysis: a truncated SVD of a TF-IDF matrix.

    Projects each document (row of a term matrix, typically the TF-IDF
    output of :class:`~mmfuse.text.TextVectorizer`) onto the
    `n_components` leading right singular vectors of the training matrix
    (:class:`sklearn.decomposition.TruncatedSVD`, which works on sparse
    matrices without centring them), then L2-normalises the result so that
    dot products are cosine similarities in topic space.

    Parameters
    ----------
    n_components : int, default=100
        Number of topics (latent dimensions); must be below the number of
        terms.
    algorithm : {"randomized", "arpack"}, default="randomized"
        SVD solver of TruncatedSVD.
    n_iter : int, default=5
        Power iterations of the randomized solver.
    normalize : bool, default=True
        L2-normalise every output row (documents without terms stay zero).
    n_top_terms : int, default=3
        Terms named in each topic's output feature name (0: none).
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    svd_ : sklearn.decomposition.TruncatedSVD
        The fitted decomposition.
    components_ : ndarray of shape (n_components, n_features_in_)
        Term loadings of each topic (``svd_.components_``); the sign of each
        topic is fixed by scikit-learn so that its largest loading is positive.
    explained_variance_ratio_ : ndarray of shape (n_components,)
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from mmfuse.text import LSATopics, TextVectorizer
    >>> docs = ["cats purr and cats meow", "dogs bark, dogs fetch", "a cat and a dog play",
    ...         "stocks fell as markets slid", "markets rallied and stocks rose"]
    >>> lsa = make_pipeline(TextVectorizer(), LSATopics(n_components=2, random_state=0))
    >>> lsa.fit_transform(docs).shape
    (5, 2)
    >>> lsa.get_feature_names_out()
    array(['lsa0:dog+cat+play', 'lsa1:market+stock+fell'], dtype=object)
    """

    _prefix = "lsa"

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "algorithm": [StrOptions({"randomized", "arpack"})],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "normalize": ["boolean"],
        "n_top_terms": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=100, *, algorithm="randomized", n_iter=5, normalize=True,
                 n_top_terms=3, random_state=None):
        self.n_components = n_components
        self.algorithm = algorithm
        self.n_iter = n_iter
        self.normalize = normalize
        self.n_top_terms = n_top_terms
        self.random_state = random_state

    def fit(self, X, y=None):
        """Learn the topics from a document-term matrix.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_terms)
        y : ignored

        Returns
        -------
        self
        """
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Learn the topics and return the documents' topic coordinates.

        Returns
        -------
        X_topics : ndarray of shape (n_samples, n_components)
        """
        self._validate_params()
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32),
                          reset=True)
        if self.n_components >= X.shape[1]:
            raise ValueError(
                f"LSATopics: n_components={self.n_components} must be below the number of "
                f"terms (n_features={X.shape[1]}); lower n_components")
        self.svd_ = TruncatedSVD(n_components=self.n_components, algorithm=self.algorithm,
                                 n_iter=self.n_iter, random_state=self.random_state)
        projected = self.svd_.fit_transform(X)
        self.components_ = self.svd_.components_
        self.explained_variance_ratio_ = self.svd_.explained_variance_ratio_
        return self._finish(projected)

    def transform(self, X):
        """Topic coordinates of documents.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_terms)

        Returns
        -------
        X_topics : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "svd_")
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32),
                          reset=False)
        return self._finish(self.svd_.transform(X))

    def _finish(self, projected):
        return normalize(projected) if self.normalize else projected


class LDATopics(_TopicTransformer):
    """Latent Dirichlet allocation topic proportions of term-count documents.

    Fits :class:`sklearn.decomposition.LatentDirichletAllocation` and gives
    each document its topic mixture (rows sum to 1). LDA models *counts*:
    feed it ``TextVectorizer(use_idf=False, norm=None)``, whose output is raw
    term counts; TF-IDF weights are accepted but make a warning.

    Parameters
    ----------
    n_components : int, default=30
        Number of topics. Thirty topics keep more of what tells documents
        apart than ten (the default until 0.1, and scikit-learn's): as the
        features of a linear SVM on raw term counts, 0.737 against 0.639 on
        Wikipedia categories' articles and 0.598 for both on MVSA Twitter's
        tweets, at about the same fit time
        (``benchmarks/results/defaults.md``). Pass ``n_components=10`` for
        the earlier model.
    doc_topic_prior, topic_word_prior : float, default=None
        Dirichlet priors (alpha, eta); None means ``1 / n_components``.
    learning_method : {"batch", "online"}, default="batch"
    max_iter : int, default=20
        Passes over the data.
    n_top_terms : int, default=3
        Terms named in each topic's output feature name (0: none).
    random_state : int, RandomState instance or None, default=None
    n_jobs : int, default=None
        Passed to LatentDirichletAllocation.

    Attributes
    ----------
    lda_ : sklearn.decomposition.LatentDirichletAllocation
    components_ : ndarray of shape (n_components, n_features_in_)
        Topic-term pseudo-counts.
    topic_word_distribution_ : ndarray of shape (n_components, n_features_in_)
        ``components_`` normalised per topic: ``p(term | topic)``.
    n_iter_ : int
        Passes over the data run.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from mmfuse.text import LDATopics, TextVectorizer
    >>> docs = ["cats purr and cats meow", "dogs bark, dogs fetch", "a cat and a dog play",
    ...         "stocks fell as markets slid", "markets rallied and stocks rose"] * 4
    >>> lda = make_pipeline(TextVectorizer(use_idf=False, norm=None),
    ...                     LDATopics(n_components=2, random_state=0))
    >>> theta = lda.fit_transform(docs)
    >>> theta.shape, bool(abs(theta.sum(axis=1) - 1).max() < 1e-6)
    ((20, 2), True)
    """

    _prefix = "lda"

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "doc_topic_prior": [Interval(Real, 0, None, closed="neither"), None],
        "topic_word_prior": [Interval(Real, 0, None, closed="neither"), None],
        "learning_method": [StrOptions({"batch", "online"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_top_terms": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, n_components=30, *, doc_topic_prior=None, topic_word_prior=None,
                 learning_method="batch", max_iter=20, n_top_terms=3, random_state=None,
                 n_jobs=None):
        self.n_components = n_components
        self.doc_topic_prior = doc_topic_prior
        self.topic_word_prior = topic_word_prior
        self.learning_method = learning_method
        self.max_iter = max_iter
        self.n_top_terms = n_top_terms
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Learn the topics from a document-term count matrix.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_terms)
            Non-negative term counts.
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32),
                          reset=True)
        _warn_if_not_counts(X)
        self.lda_ = LatentDirichletAllocation(
            n_components=self.n_components, doc_topic_prior=self.doc_topic_prior,
            topic_word_prior=self.topic_word_prior, learning_method=self.learning_method,
            max_iter=self.max_iter, random_state=self.random_state, n_jobs=self.n_jobs)
        self.lda_.fit(X)
        self.n_iter_ = self.lda_.n_iter_
        self.components_ = self.lda_.components_
        self.topic_word_distribution_ = self.components_ / self.components_.sum(axis=1,
                                                                                keepdims=True)
        return self

    def transform(self, X):
        """Topic proportions of documents (rows sum to 1).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_terms)

        Returns
        -------
        X_topics : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "lda_")
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32),
                          reset=False)
        return self.lda_.transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


def _warn_if_not_counts(X) -> None:
    import warnings

    values = X.data if sp.issparse(X) else np.asarray(X).ravel()
    if values.size and not np.allclose(values, np.round(values)):
        warnings.warn(
            "LDATopics: the input holds non-integer values; LDA models term counts, so use "
            "TextVectorizer(use_idf=False, norm=None) (TF-IDF weights are treated as counts)",
            UserWarning, stacklevel=3)

"""TF-IDF over one column of texts, with NLTK normalisation."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from mmfuse.exceptions import MediaError
from mmfuse.text._normalize import (
    NLTKTokenizer,
    resolve_stemmer,
    resolve_stop_words,
    unsegmented_share,
)
from mmfuse.utils import as_column, is_missing_cell

MODALITY = "text"
ANALYZERS = ("word", "char", "char_wb")
# Share of unsegmented-script characters above which word n-grams get a warning.
_UNSEGMENTED_WARN_SHARE = 0.3


class TextVectorizer(TransformerMixin, BaseEstimator):
    """TF-IDF features of one column of texts, normalised with NLTK.

    Texts are split into terms by :class:`NLTKTokenizer` (NLTK word/punctuation
    tokenizer, lower-casing, punctuation and short-token removal, stopwords,
    NLTK stemmer) and weighted by :class:`sklearn.feature_extraction.text.TfidfVectorizer`,
    which also builds the n-grams. Nothing needs downloaded NLTK data: the
    stopword list comes from NLTK's ``stopwords`` corpus when it is installed
    and from scikit-learn's English list otherwise (see `stop_words`).

    Parameters
    ----------
    lowercase : bool, default=True
        Lower-case tokens before stopword removal and stemming.
    stop_words : str, list of str or None, default="english"
        A language name: NLTK's stopword list for that language when the
        ``stopwords`` corpus is installed; for "english" without the corpus,
        scikit-learn's ``ENGLISH_STOP_WORDS``; for another language without
        the corpus, ``fit`` raises ``LookupError`` (there is no fallback list,
        and keeping all stopwords silently would change the features). The
        name must equal `language`. A list is used as given; None keeps every
        token. Which list was used is recorded in ``stop_words_source_``, and
        the fitted words are kept, so a pickled model transforms the same way
        on a machine with or without the corpus.
    stemmer : {"porter", "snowball", "lancaster", "wordnet"} or None, default="porter"
        NLTK stemmer (``nltk.stem``); these need no downloaded data. Porter and
        Lancaster are English-only. ``"wordnet"`` lemmatises English tokens
        with :class:`nltk.stem.WordNetLemmatizer` (noun lemmas: "dogs" ->
        "dog", "geese" -> "goose") when NLTK's ``wordnet`` corpus is
        installed; otherwise ``fit`` warns and uses ``"porter"``
        (``stemmer_`` records which).
    language : str, default="english"
        Language of the texts: picks the Snowball stemmer and must match a
        string `stop_words`.
    analyzer : {"word", "char", "char_wb"}, default="word"
        What the n-grams are made of. ``"word"``: terms (the normalised
        tokens). ``"char"`` and ``"char_wb"``: characters of the normalised
        text, that is its terms joined by single spaces, as scikit-learn's
        analyzers of the same names make them (``"char_wb"`` keeps n-grams
        inside terms, padded with a space at each end). Character n-grams
        describe scripts written without spaces between words (Chinese,
        Japanese, Thai, ...), where a word tokenizer returns whole clauses;
        for them use ``analyzer="char_wb"``, ``ngram_range=(1, 2)`` and
        ``stop_words=None`` (fitting word n-grams on such text warns), or
        segment Chinese into words with ``segmenter="jieba"``.
        Stopwords and stemming apply to the terms before characters are
        taken; pass ``stop_words=None, stemmer=None`` for n-grams of the raw
        lower-cased text.
    ngram_range : tuple (min_n, max_n), default=(1, 1)
        Lengths of the n-grams: terms for ``analyzer="word"`` (an n-gram
        joins stemmed terms with a space), characters otherwise.
    min_df, max_df, max_features, sublinear_tf, norm, use_idf, smooth_idf, dtype
        As in :class:`~sklearn.feature_extraction.text.TfidfVectorizer`
        (``dtype`` defaults to ``np.float32`` here).
    min_token_length : int, default=2
        Shortest token kept, in characters, counted before stemming (2 matches
        scikit-learn's default token pattern).
    segmenter : {"jieba"} or None, default=None
        ``"jieba"``: cut Chinese into words with jieba (optional: ``pip
        install jieba`` or the ``zh`` extra) before counting word n-grams;
        one-character Chinese words are kept. None (the default, no extra
        needed): Chinese is best described with ``analyzer="char_wb"``.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Term to column index.
    idf_ : ndarray of shape (n_terms,)
        Inverse document frequencies (only when ``use_idf=True``).
    stop_words_source_ : {"nltk", "sklearn", "custom", "none"}
        Where the stopwords came from.
    stemmer_ : str or None
        The stemmer used: `stemmer`, or ``"porter"`` when ``"wordnet"`` fell
        back for want of the corpus.
    tokenizer_ : NLTKTokenizer
        The fitted normalisation, holding the stopwords actually used.
    vectorizer_ : sklearn.feature_extraction.text.TfidfVectorizer
        The fitted scikit-learn vectorizer doing the counting and weighting.
    n_missing_ : int
        Number of missing cells seen by ``fit``.

    Notes
    -----
    Input is one column of texts: a list, a pandas Series, a one-column
    DataFrame or a 1-D object array. As for scikit-learn's text vectorizers,
    there is no ``n_features_in_``: the column holds strings, not features.

    **Missing texts.** A ``None``/NaN cell is a missing modality. It becomes
    an all-zero row, and ``fit`` leaves it out of the document frequencies,
    so adding missing rows does not change the model (``n_missing_`` counts
    them). An empty string is a text that happens to be empty: it also gives
    an all-zero row but counts as a document for the idf. A cell that is
    neither a ``str`` nor missing (a number, ``bytes``) raises
    :class:`~mmfuse.exceptions.MediaError` naming the sample position.

    Examples
    --------
    >>> from mmfuse.text import TextVectorizer
    >>> texts = ["The cats are running", "A cat runs home", None]
    >>> vectorizer = TextVectorizer()
    >>> X = vectorizer.fit_transform(texts)
    >>> X.shape, X.dtype
    ((3, 3), dtype('float32'))
    >>> vectorizer.get_feature_names_out()
    array(['cat', 'home', 'run'], dtype=object)
    >>> X[2].nnz  # the missing text
    0
    >>> TextVectorizer(ngram_range=(1, 2)).fit(texts).get_feature_names_out()
    array(['cat', 'cat run', 'home', 'run', 'run home'], dtype=object)

    Chinese is written without spaces: character n-grams describe it.

    >>> chinese = ["我喜欢北京。", "北京很大！", "我喜欢猫"]
    >>> zh = TextVectorizer(analyzer="char_wb", ngram_range=(1, 2), stop_words=None,
    ...                     stemmer=None).fit(chinese)
    >>> [name for name in zh.get_feature_names_out() if len(name.strip()) == 2]
    ['京很', '北京', '喜欢', '很大', '我喜', '欢北', '欢猫']
    """

    def __init__(
        self,
        *,
        lowercase=True,
        stop_words="english",
        stemmer="porter",
        language="english",
        analyzer="word",
        ngram_range=(1, 1),
        min_df=1,
        max_df=1.0,
        max_features=None,
        sublinear_tf=False,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        dtype=np.float32,
        min_token_length=2,
        segmenter=None,
    ):
        self.lowercase = lowercase
        self.stop_words = stop_words
        self.stemmer = stemmer
        self.language = language
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.norm = norm
        self.use_idf = use_idf
        self.smooth_idf = smooth_idf
        self.dtype = dtype
        self.min_token_length = min_token_length
        self.segmenter = segmenter

    def fit(self, X, y=None):
        """Learn the vocabulary and idf from a column of texts.

        Parameters
        ----------
        X : list, pandas Series, one-column DataFrame or 1-D array of str
            One text per sample; ``None``/NaN marks a missing text.
        y : None
            Ignored.

        Returns
        -------
        self : TextVectorizer
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit on `X` and return its TF-IDF matrix (one pass over the texts).

        Returns
        -------
        X_tfidf : scipy.sparse.csr_matrix of shape (n_samples, n_terms)
        """
        return self._fit(X)

    def transform(self, X):
        """TF-IDF matrix of a column of texts, with the fitted vocabulary.

        Parameters
        ----------
        X : list, pandas Series, one-column DataFrame or 1-D array of str
            One text per sample; ``None``/NaN gives an all-zero row.

        Returns
        -------
        X_tfidf : scipy.sparse.csr_matrix of shape (n_samples, n_terms)
            Rows are L2-normalised when ``norm="l2"``; terms unseen in ``fit``
            are ignored.
        """
        check_is_fitted(self, "vectorizer_")
        texts, present = _read_texts(X)
        if not texts:
            # scikit-learn refuses zero documents; every row is zero anyway.
            shape = (present.size, len(self.vocabulary_))
            return sp.csr_matrix(shape, dtype=self.vectorizer_.dtype)
        return _expand_rows(self.vectorizer_.transform(texts), present)

    def get_feature_names_out(self, input_features=None):
        """Terms, in column order: stemmed tokens, n-grams joined by a space.

        Parameters
        ----------
        input_features : None
            Ignored; present for scikit-learn API compatibility.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "vectorizer_")
        return self.vectorizer_.get_feature_names_out()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def _fit(self, X):
        texts, present = _read_texts(X)
        if present.size == 0:
            raise ValueError(f"{MODALITY}: fit needs at least one sample, got 0")
        n_missing = int(present.size - present.sum())
        if not texts:
            raise ValueError(
                f"{MODALITY}: all {present.size} samples are missing (None/NaN); "
                f"cannot learn a vocabulary"
            )
        if self.analyzer not in ANALYZERS:
            raise ValueError(
                f"{MODALITY}: analyzer must be one of {ANALYZERS}, got {self.analyzer!r}"
            )
        stop_words, source = resolve_stop_words(self.stop_words, self.language)
        stemmer = resolve_stemmer(self.stemmer, self.language)
        tokenizer = NLTKTokenizer(
            lowercase=self.lowercase,
            stop_words=stop_words,
            stemmer=stemmer,
            language=self.language,
            min_token_length=self.min_token_length,
            segmenter=self.segmenter,
        )
        if self.analyzer == "word":
            # Lower-casing and stopwords happen in the tokenizer, token by token;
            # scikit-learn only counts, builds n-grams and weights.
            analysis = dict(analyzer="word", tokenizer=tokenizer, token_pattern=None)
            share = unsegmented_share(texts) if self.segmenter is None else 0.0
            if share > _UNSEGMENTED_WARN_SHARE:
                warnings.warn(
                    f"{MODALITY}: {share:.0%} of the characters are in scripts written without "
                    f"spaces (Chinese, Japanese, Thai, ...), where word tokens are whole "
                    f"clauses; use analyzer='char_wb' with ngram_range=(1, 2)",
                    UserWarning,
                    stacklevel=3,
                )
        else:
            # The tokenizer normalises; scikit-learn cuts the joined terms into characters.
            analysis = dict(analyzer=self.analyzer, preprocessor=tokenizer.joined)
        vectorizer = TfidfVectorizer(
            lowercase=False,
            stop_words=None,
            **analysis,
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            norm=self.norm,
            use_idf=self.use_idf,
            smooth_idf=self.smooth_idf,
            dtype=self.dtype,
        )
        try:
            matrix = vectorizer.fit_transform(texts)
        except ValueError as exc:
            # InvalidParameterError derives from TypeError too: a bad
            # parameter, not bad data, so its own message says it best.
            if isinstance(exc, TypeError):
                raise
            n_empty = sum(1 for text in texts if not text.strip())
            raise ValueError(
                f"{MODALITY}: no terms to learn from {len(texts)} texts ({n_empty} empty, "
                f"{n_missing} missing) after tokenising, stopword removal "
                f"(stop_words={self.stop_words!r}) and min_df/max_df pruning: {exc}"
            ) from exc
        self.tokenizer_ = tokenizer
        self.vectorizer_ = vectorizer
        self.stop_words_source_ = source
        self.stemmer_ = stemmer
        self.vocabulary_ = vectorizer.vocabulary_
        if self.use_idf:
            self.idf_ = vectorizer.idf_
        self.n_missing_ = n_missing
        return _expand_rows(matrix, present)


def _read_texts(X):
    """The present texts, and a boolean mask of which samples are present."""
    cells = as_column(X, modality=MODALITY)
    texts = []
    present = np.ones(len(cells), dtype=bool)
    for index, cell in enumerate(cells):
        if isinstance(cell, str):
            texts.append(cell)
        elif is_missing_cell(cell):
            present[index] = False
        else:
            raise MediaError(
                f"expected a str (or None/NaN for a missing text), got {type(cell).__name__}",
                modality=MODALITY,
                sample=index,
            )
    return texts, present


def _expand_rows(matrix, present):
    """Put the rows of `matrix` at the present samples; missing samples get zero rows."""
    matrix = sp.csr_matrix(matrix)
    if present.all():
        return matrix
    counts = np.zeros(present.size, dtype=matrix.indptr.dtype)
    counts[present] = np.diff(matrix.indptr)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(matrix.indptr.dtype)
    return sp.csr_matrix(
        (matrix.data, matrix.indices, indptr), shape=(present.size, matrix.shape[1])
    )

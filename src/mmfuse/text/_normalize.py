"""NLTK text normalisation that needs no downloaded NLTK data.

Tokenising (``WordPunctTokenizer``, a regular expression) and stemming (Porter,
Snowball, Lancaster: rule tables shipped inside the ``nltk`` package) work on a
bare install. Only the stopword lists live in the downloadable ``stopwords``
corpus; :func:`resolve_stop_words` uses it when it is installed and otherwise
falls back to scikit-learn's English list. WordNet lemmatisation needs the
downloadable ``wordnet`` corpus; :func:`resolve_stemmer` falls back to the
Porter stemmer, with a warning, when it is absent.
"""

from __future__ import annotations

import re
import unicodedata
import warnings

import nltk.corpus
import nltk.data
from nltk.stem import LancasterStemmer, PorterStemmer, SnowballStemmer, WordNetLemmatizer
from nltk.tokenize import WordPunctTokenizer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

STEMMERS = ("porter", "snowball", "lancaster", "wordnet")

# Scripts written without spaces between words: Han (CJK ideographs), Hiragana,
# Katakana, Thai, Lao, Myanmar, Khmer, Tibetan. Word tokenisers return whole
# clauses for them; character n-grams are the way to describe such text.
_UNSEGMENTED = re.compile(
    "[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
)

def _jieba_cut():
    """jieba's precise-mode ``lcut``, quiet; a clear error when jieba is absent."""
    try:
        import jieba
    except ImportError as exc:
        raise ImportError("segmenter='jieba' needs the jieba package: pip install jieba "
                          '(or pip install "mmfuse[zh]")') from exc
    import logging

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter
    return jieba.lcut


# One regex-based tokenizer is enough for every instance; it holds no state.
_WORD_PUNCT = WordPunctTokenizer()
_LANGUAGE_NAME = re.compile(r"[a-z]+")


def nltk_stopwords_available(language: str = "english") -> bool:
    """Whether NLTK's ``stopwords`` corpus is installed for `language`.

    Parameters
    ----------
    language : str, default="english"
        Lower-case language name as NLTK spells it ("english", "french", ...).

    Returns
    -------
    available : bool
        True when ``nltk.corpus.stopwords.words(language)`` can be read
        without a download.

    Examples
    --------
    >>> from mmfuse.text import nltk_stopwords_available
    >>> nltk_stopwords_available("english") in (True, False)
    True
    """
    if not _LANGUAGE_NAME.fullmatch(language):
        return False
    try:
        # find() also looks inside corpora/stopwords.zip.
        nltk.data.find(f"corpora/stopwords/{language}")
    except LookupError:
        return False
    return True


def resolve_stop_words(stop_words, language: str = "english"):
    """Turn a ``stop_words`` parameter into a set of words and where it came from.

    Parameters
    ----------
    stop_words : str, list of str or None
        A language name ("english", "french", ...), a collection of words
        used as given, or None for no stopword removal.
    language : str, default="english"
        Language of the texts; a string `stop_words` must name the same
        language so that the stopwords and the stemmer agree.

    Returns
    -------
    words : frozenset of str
        The stopwords (empty when `stop_words` is None).
    source : {"nltk", "sklearn", "custom", "none"}
        ``"nltk"``: NLTK's ``stopwords`` corpus for the language (used when
        installed); ``"sklearn"``: scikit-learn's ``ENGLISH_STOP_WORDS``
        (English only, when the corpus is absent); ``"custom"``: the words
        passed in; ``"none"``: no stopword removal.

    Raises
    ------
    ValueError
        If a string `stop_words` is not `language`.
    LookupError
        If `stop_words` names a language other than English and NLTK's
        ``stopwords`` corpus is not installed: there is no bundled list to
        fall back on, and silently keeping every stopword would change the
        features without a trace.

    Examples
    --------
    >>> from mmfuse.text import resolve_stop_words
    >>> words, source = resolve_stop_words("english")
    >>> "the" in words, source in ("nltk", "sklearn")
    (True, True)
    >>> resolve_stop_words(["foo", "bar"])
    (frozenset({...}), 'custom')
    >>> resolve_stop_words(None)
    (frozenset(), 'none')
    """
    if stop_words is None:
        return frozenset(), "none"
    if isinstance(stop_words, str):
        if stop_words != language:
            raise ValueError(
                f"text: stop_words={stop_words!r} does not match language={language!r}; "
                f"pass stop_words={language!r}, a list of words, or None"
            )
        if nltk_stopwords_available(language):
            # Looked up at call time so the lazy corpus loader can be swapped in tests.
            return frozenset(nltk.corpus.stopwords.words(language)), "nltk"
        if language == "english":
            return frozenset(ENGLISH_STOP_WORDS), "sklearn"
        raise LookupError(
            f"text: stop_words={language!r} needs NLTK's 'stopwords' corpus, which is not "
            f"installed (run nltk.download('stopwords')); or pass stop_words=None or a list "
            f"of words"
        )
    if isinstance(stop_words, bytes):
        raise TypeError("text: stop_words must be a language name, a list of str, or None")
    words = frozenset(stop_words)
    bad = [word for word in words if not isinstance(word, str)]
    if bad:
        raise TypeError(f"text: stop_words must contain only str, got {bad[0]!r}")
    return words, "custom"


def wordnet_available() -> bool:
    """Whether NLTK's ``wordnet`` corpus is installed (needed for lemmatisation).

    Returns
    -------
    available : bool
        True when ``nltk.corpus.wordnet`` loads without a download.

    Examples
    --------
    >>> from mmfuse.text import wordnet_available
    >>> wordnet_available() in (True, False)
    True
    """
    try:
        nltk.data.find("corpora/wordnet.zip")
        return True
    except LookupError:
        pass
    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        return False
    return True


def resolve_stemmer(stemmer: str | None, language: str = "english") -> str | None:
    """The stemmer to use for a ``stemmer`` parameter, falling back when data is missing.

    ``"wordnet"`` needs NLTK's ``wordnet`` corpus. When it is not installed,
    this warns (saying how to install it) and returns ``"porter"``, the
    closest rule-based normalisation that needs no data. Every other value
    is returned as it is, after checking it with :func:`make_stemmer`.

    Parameters
    ----------
    stemmer : {"porter", "snowball", "lancaster", "wordnet"} or None
    language : str, default="english"

    Returns
    -------
    stemmer : str or None
        The stemmer actually used.

    Examples
    --------
    >>> from mmfuse.text import resolve_stemmer
    >>> resolve_stemmer("snowball", "french")
    'snowball'
    """
    try:
        make_stemmer(stemmer, language)
    except LookupError as exc:
        warnings.warn(
            f"{exc}; falling back to stemmer='porter'. Install the corpus to lemmatise.",
            UserWarning,
            stacklevel=2,
        )
        return "porter"
    return stemmer


def unsegmented_share(texts) -> float:
    """Share of letters and digits in `texts` that belong to scripts written without spaces.

    Chinese, Japanese, Thai, Lao, Khmer, Myanmar and Tibetan do not separate
    words with spaces, so a word tokenizer returns whole clauses; a high
    share means character n-grams (``analyzer="char_wb"``) should be used.

    Examples
    --------
    >>> from mmfuse.text import unsegmented_share
    >>> unsegmented_share(["我喜欢自然语言处理", "hello"])
    0.642...
    """
    n_alnum = n_unsegmented = 0
    for text in texts:
        n_alnum += sum(1 for char in text if char.isalnum())
        n_unsegmented += len(_UNSEGMENTED.findall(text))
    return n_unsegmented / n_alnum if n_alnum else 0.0


class _WordNetLemmas:
    """``.stem`` interface over :class:`nltk.stem.WordNetLemmatizer` (noun lemmas)."""

    def __init__(self):
        self._lemmatizer = WordNetLemmatizer()

    def stem(self, token: str) -> str:
        return self._lemmatizer.lemmatize(token)


def make_stemmer(stemmer: str | None, language: str = "english"):
    """Build an NLTK stemmer by name; None means no stemming.

    Porter and Lancaster are English-only, so any other `language` raises;
    Snowball covers ``nltk.stem.SnowballStemmer.languages``. ``"wordnet"``
    is WordNet lemmatisation (English; nouns, the WordNet lemmatiser's
    default part of speech) and raises ``LookupError`` when NLTK's
    ``wordnet`` corpus is not installed: :func:`resolve_stemmer` turns that
    into a fallback.

    Examples
    --------
    >>> from mmfuse.text import make_stemmer
    >>> make_stemmer("snowball", "french").stem("continuellement")
    'continuel'
    """
    if stemmer is None:
        return None
    if stemmer not in STEMMERS:
        raise ValueError(f"text: stemmer must be one of {STEMMERS} or None, got {stemmer!r}")
    if stemmer == "wordnet":
        if language != "english":
            raise ValueError(
                f"text: WordNet lemmatisation is English-only, got language={language!r}; "
                f"use stemmer='snowball' or stemmer=None"
            )
        if not wordnet_available():
            raise LookupError(
                "text: stemmer='wordnet' needs NLTK's 'wordnet' corpus, which is not installed "
                "(run nltk.download('wordnet'))"
            )
        return _WordNetLemmas()
    if stemmer == "snowball":
        if language not in SnowballStemmer.languages:
            raise ValueError(
                f"text: the Snowball stemmer has no language {language!r}; "
                f"choose one of {SnowballStemmer.languages}"
            )
        return SnowballStemmer(language)
    if language != "english":
        raise ValueError(
            f"text: the {stemmer} stemmer is English-only, got language={language!r}; "
            f"use stemmer='snowball' or stemmer=None"
        )
    return PorterStemmer() if stemmer == "porter" else LancasterStemmer()


class NLTKTokenizer:
    """Split a text into normalised terms with NLTK, without downloaded data.

    Steps, in order: Unicode NFC normalisation (so a decomposed "é" stays one
    letter), ``nltk.tokenize.WordPunctTokenizer``, lower-casing of each token,
    removal of tokens with no letter or digit (punctuation, underscores),
    removal of tokens shorter than `min_token_length`, removal of
    `stop_words`, stemming.

    A module-level class rather than a closure so that estimators holding
    one pickle and clone.

    Parameters
    ----------
    lowercase : bool, default=True
        Lower-case tokens before the stopword test and stemming. NLTK's
        Snowball and Lancaster stemmers lower-case their output regardless;
        Porter is told not to when this is False.
    stop_words : collection of str, default=()
        Words to drop, matched against tokens after lower-casing (so with
        ``lowercase=False`` the match is case-sensitive).
    stemmer : {"porter", "snowball", "lancaster", "wordnet"} or None, default=None
        NLTK stemmer (or WordNet lemmatiser) applied to each kept token.
    language : str, default="english"
        Language of the Snowball stemmer.
    min_token_length : int, default=2
        Shortest token kept, in characters, before stemming (a segmented
        Chinese word of one character is kept: one character is a word there).
    segmenter : {"jieba"} or None, default=None
        Word segmentation of scripts written without spaces: ``"jieba"``
        cuts Chinese into words with the `jieba <https://github.com/fxsjy/jieba>`_
        segmenter (precise mode; ``pip install jieba`` or the ``zh`` extra)
        before the other steps; other text is tokenised as usual. None:
        NLTK's tokeniser only (Chinese clauses stay whole; describe them with
        character n-grams instead).

    Examples
    --------
    >>> from mmfuse.text import NLTKTokenizer
    >>> tokenize = NLTKTokenizer(stop_words={"the", "are"}, stemmer="porter")
    >>> tokenize("The cats are running!")
    ['cat', 'run']
    >>> NLTKTokenizer()("Café naïve — Ελληνικά κείμενα")
    ['café', 'naïve', 'ελληνικά', 'κείμενα']
    """

    def __init__(
        self,
        *,
        lowercase: bool = True,
        stop_words=(),
        stemmer: str | None = None,
        language: str = "english",
        min_token_length: int = 2,
        segmenter: str | None = None,
    ):
        if segmenter not in (None, "jieba"):
            raise ValueError(f"segmenter must be None or 'jieba', got {segmenter!r}")
        self.segmenter = segmenter
        self.lowercase = bool(lowercase)
        self.stop_words = frozenset(stop_words)
        self.stemmer = stemmer
        self.language = language
        self.min_token_length = int(min_token_length)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._stemmer = make_stemmer(self.stemmer, self.language)
        self._segment = _jieba_cut() if getattr(self, "segmenter", None) == "jieba" else None
        # Stemming dominates the cost and vocabularies are small next to
        # token counts, so remember each token's stem.
        self._stem_cache: dict[str, str] = {}

    def _stem(self, token: str) -> str:
        stem = self._stem_cache.get(token)
        if stem is None:
            if isinstance(self._stemmer, PorterStemmer):
                stem = self._stemmer.stem(token, to_lowercase=self.lowercase)
            else:
                stem = self._stemmer.stem(token)
            self._stem_cache[token] = stem
        return stem

    def _tokens(self, text: str):
        if self._segment is None:
            yield from _WORD_PUNCT.tokenize(text)
            return
        for piece in self._segment(text):
            if _UNSEGMENTED.search(piece):
                yield piece  # a segmented word (jieba splits punctuation off)
            else:
                yield from _WORD_PUNCT.tokenize(piece)

    def __call__(self, text: str) -> list[str]:
        terms = []
        for token in self._tokens(unicodedata.normalize("NFC", text)):
            if self.lowercase:
                token = token.lower()
            too_short = len(token) < self.min_token_length and not _UNSEGMENTED.search(token)
            if too_short or token in self.stop_words:
                continue
            if not any(char.isalnum() for char in token):
                continue
            terms.append(token if self._stemmer is None else self._stem(token))
        return terms

    def joined(self, text: str) -> str:
        """The terms of `text` joined by single spaces (input of character n-grams)."""
        return " ".join(self(text))

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_stemmer"], state["_stem_cache"], state["_segment"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_runtime()

    def __repr__(self) -> str:
        return (
            f"NLTKTokenizer(lowercase={self.lowercase}, stop_words=<{len(self.stop_words)} "
            f"words>, stemmer={self.stemmer!r}, language={self.language!r}, "
            f"min_token_length={self.min_token_length}"
            + ("" if self.segmenter is None else f", segmenter={self.segmenter!r}") + ")"
        )

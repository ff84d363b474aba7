"""Clean raw text before tokenising: markup, URLs, e-mail addresses, numbers, Unicode forms."""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from mmfuse.exceptions import MediaError
from mmfuse.utils import as_column, is_missing_cell

MODALITY = "text"

#: Tokens that replace URLs, e-mail addresses and numbers in ``"token"`` mode.
#: Underscores keep each one a single word for the tokenizer.
URL_TOKEN, EMAIL_TOKEN, NUMBER_TOKEN = "_url_", "_email_", "_num_"

_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]}]", re.IGNORECASE
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A number standing alone (not the digits of "mp3" or "covid19"): signs, digit
# groups and decimal separators, in any script's digits.
_NUMBER = re.compile(r"(?<!\w)[+-]?\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|%)?(?!\w)")
_SPACE = re.compile(r"\s+")
# Content that is not text: scripts and style sheets.
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_UNICODE_FORMS = ("NFC", "NFKC", "NFD", "NFKD")
_MODES = ("keep", "remove", "token")


class _TextOfMarkup(HTMLParser):
    """The character data of an HTML or XML document (entities decoded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in _SKIPPED_TAGS and self._skipping:
            self._skipping -= 1
        self.parts.append(" ")

    def handle_startendtag(self, tag, attrs):
        self.parts.append(" ")

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)

    def unknown_decl(self, data):
        # XML CDATA sections are text.
        if data.startswith("CDATA["):
            self.parts.append(data[len("CDATA["):])


def strip_markup(text: str) -> str:
    """The text of an HTML or XML document: tags, comments, scripts and styles removed.

    Uses the standard library's lenient :class:`html.parser.HTMLParser`, so
    broken markup (unclosed tags, bare ``&``) does not raise. Entities are
    decoded (``&amp;`` becomes ``&``); every tag becomes a space, so words in
    neighbouring elements stay apart; CDATA sections are kept as text.

    Examples
    --------
    >>> from mmfuse.text import strip_markup
    >>> strip_markup("<p>Fish &amp; chips</p><script>var x;</script><p>today</p>").split()
    ['Fish', '&', 'chips', 'today']
    """
    parser = _TextOfMarkup()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def clean_text(text, *, markup=True, urls="remove", emails="remove", numbers="keep",
               unicode_form="NFKC", collapse_whitespace=True):
    """Clean one raw text: markup, URLs, e-mail addresses, numbers, Unicode form, spaces.

    Steps, in order: strip HTML/XML markup (:func:`strip_markup`); Unicode
    normalisation (:func:`unicodedata.normalize`; NFKC folds compatibility
    forms such as full-width Latin letters and digits, ligatures and
    superscripts into their plain forms); URLs; e-mail addresses; numbers;
    runs of white space to one space.

    Parameters
    ----------
    text : str
    markup : bool, default=True
        Strip HTML/XML tags, comments, scripts and styles; decode entities.
    urls, emails, numbers : {"keep", "remove", "token"}
        Keep them, remove them, or replace each by a placeholder token
        (``_url_``, ``_email_``, ``_num_``) that survives tokenising as one
        word. Defaults: URLs and e-mail addresses removed, numbers kept.
        Numbers are digit groups standing alone, with an optional sign,
        separators (``3.14``, ``1,000``, ``12:30``, ``1/2``), ordinal suffix
        or ``%``; digits inside a word (``mp3``, ``covid19``) stay.
    unicode_form : {"NFC", "NFKC", "NFD", "NFKD"} or None, default="NFKC"
        Unicode normalisation form; None leaves the text as it is.
    collapse_whitespace : bool, default=True
        Replace runs of white space by one space and strip both ends.

    Returns
    -------
    cleaned : str

    Examples
    --------
    >>> from mmfuse.text import clean_text
    >>> clean_text("<b>Visit</b> https://example.org/a?b=1, or mail me@example.org!")
    'Visit , or mail !'
    >>> clean_text("Ｆｕｌｌ－ｗｉｄｔｈ ２０２４ and 3.5% of mp3s", numbers="token")
    'Full-width _num_ and _num_ of mp3s'
    """
    if not isinstance(text, str):
        raise TypeError(f"clean_text expects a str, got {type(text).__name__}")
    for name, mode in (("urls", urls), ("emails", emails), ("numbers", numbers)):
        if mode not in _MODES:
            raise ValueError(f"{name} must be one of {_MODES}, got {mode!r}")
    if unicode_form is not None and unicode_form not in _UNICODE_FORMS:
        raise ValueError(f"unicode_form must be one of {_UNICODE_FORMS} or None, "
                         f"got {unicode_form!r}")
    if markup:
        text = strip_markup(text)
    if unicode_form is not None:
        text = unicodedata.normalize(unicode_form, text)
    for pattern, mode, token in ((_URL, urls, URL_TOKEN), (_EMAIL, emails, EMAIL_TOKEN),
                                 (_NUMBER, numbers, NUMBER_TOKEN)):
        if mode != "keep":
            text = pattern.sub(" " if mode == "remove" else f" {token} ", text)
    if collapse_whitespace:
        text = _SPACE.sub(" ", text).strip()
    return text


class TextCleaner(TransformerMixin, BaseEstimator):
    """Clean a column of raw texts with :func:`clean_text`; put it before a vectorizer.

    Missing cells (None/NaN) stay missing, so a following
    :class:`~mmfuse.text.TextVectorizer` still treats them as absent.

    Parameters
    ----------
    markup : bool, default=True
    urls, emails, numbers : {"keep", "remove", "token"}, default "remove", "remove", "keep"
    unicode_form : {"NFC", "NFKC", "NFD", "NFKD"} or None, default="NFKC"
    collapse_whitespace : bool, default=True
        See :func:`clean_text`.

    Attributes
    ----------
    n_missing_ : int
        Missing cells seen by ``fit``.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from mmfuse.text import TextCleaner, TextVectorizer
    >>> pages = ["<p>Cats &amp; dogs</p> http://pets.example", "<i>2 dogs</i>", None]
    >>> TextCleaner(numbers="token").fit_transform(pages).tolist()
    ['Cats & dogs', '_num_ dogs', None]
    >>> model = make_pipeline(TextCleaner(), TextVectorizer()).fit(pages)
    >>> model[-1].get_feature_names_out()
    array(['cat', 'dog'], dtype=object)
    """

    _parameter_constraints = {
        "markup": ["boolean"],
        "urls": [StrOptions(set(_MODES))],
        "emails": [StrOptions(set(_MODES))],
        "numbers": [StrOptions(set(_MODES))],
        "unicode_form": [StrOptions(set(_UNICODE_FORMS)), None],
        "collapse_whitespace": ["boolean"],
    }

    def __init__(self, *, markup=True, urls="remove", emails="remove", numbers="keep",
                 unicode_form="NFKC", collapse_whitespace=True):
        self.markup = markup
        self.urls = urls
        self.emails = emails
        self.numbers = numbers
        self.unicode_form = unicode_form
        self.collapse_whitespace = collapse_whitespace

    def fit(self, X, y=None):
        """Check the parameters and the column; cleaning learns nothing.

        Parameters
        ----------
        X : list, pandas Series, one-column DataFrame or 1-D array of str
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        cells = as_column(X, modality=MODALITY)
        self.n_missing_ = sum(1 for cell in cells if is_missing_cell(cell))
        return self

    def transform(self, X):
        """Clean every text of the column.

        Returns
        -------
        cleaned : ndarray of object, shape (n_samples,)
            Cleaned str, or None where the cell was missing.
        """
        check_is_fitted(self, "n_missing_")
        cells = as_column(X, modality=MODALITY)
        out = np.empty(len(cells), dtype=object)
        options = dict(markup=self.markup, urls=self.urls, emails=self.emails,
                       numbers=self.numbers, unicode_form=self.unicode_form,
                       collapse_whitespace=self.collapse_whitespace)
        for index, cell in enumerate(cells):
            if isinstance(cell, str):
                out[index] = clean_text(cell, **options)
            elif is_missing_cell(cell):
                out[index] = None
            else:
                raise MediaError(
                    f"expected a str (or None/NaN for a missing text), got {type(cell).__name__}",
                    modality=MODALITY, sample=index)
        return out

    def get_feature_names_out(self, input_features=None):
        """The name of the (single) column: `input_features` when given, else ``"text"``.

        Returns
        -------
        feature_names_out : ndarray of str objects of shape (1,)
        """
        check_is_fitted(self, "n_missing_")
        if input_features is None:
            return np.asarray(["text"], dtype=object)
        return np.asarray(input_features, dtype=object).reshape(-1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

"""TextVectorizer against a hand-written NLTK + scikit-learn reference."""

from __future__ import annotations

import pickle
import unicodedata
import warnings

import nltk.corpus
import nltk.data
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from nltk.corpus.reader import WordListCorpusReader
from nltk.corpus.util import LazyCorpusLoader
from nltk.stem import PorterStemmer, SnowballStemmer
from nltk.tokenize import wordpunct_tokenize
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mmfuse.exceptions import MediaError
from mmfuse.text import TextVectorizer, nltk_stopwords_available

CORPUS = [
    "The runners were running quickly through the running track.",
    "A runner runs; the dogs are barking at the runners!",
    "Dogs bark, cats meow, and birds are singing happily.",
    "Singing birds and barking dogs: a noisy morning, quickly over.",
    "Cats sleep while the dogs run around the house.",
    # Stopwords are dropped before stemming: "this", "was", "becoming" go, and
    # "ones" stays although its stem "one" is a stopword.
    "This was becoming a habit for the ones who run.",
]


@pytest.fixture
def no_nltk_data(monkeypatch):
    """Make every NLTK resource look absent, as on a bare CI machine."""

    def find(resource_name, paths=None):
        raise LookupError(f"simulated missing NLTK resource {resource_name!r}")

    monkeypatch.setattr(nltk.data, "find", find)


def reference_terms(text, stop_words, stemmer=None, ngram_range=(1, 1)):
    """The same NLTK calls, written out by hand."""
    stemmer = stemmer or PorterStemmer()
    tokens = [token.lower() for token in wordpunct_tokenize(text)]
    tokens = [t for t in tokens if len(t) >= 2 and any(c.isalnum() for c in t)]
    stems = [stemmer.stem(t) for t in tokens if t not in stop_words]
    terms = []
    for n in range(ngram_range[0], ngram_range[1] + 1):
        terms += [" ".join(stems[i : i + n]) for i in range(len(stems) - n + 1)]
    return terms


def reference_tfidf(texts, stop_words, ngram_range=(1, 1), **params):
    pre_split = [reference_terms(t, stop_words, ngram_range=ngram_range) for t in texts]
    reference = TfidfVectorizer(analyzer=lambda terms: terms, dtype=np.float32, **params)
    return reference, reference.fit_transform(pre_split)


def assert_same_tfidf(vectorizer, X, reference, X_ref):
    names = vectorizer.get_feature_names_out()
    assert_array_equal(names, reference.get_feature_names_out())
    assert sp.issparse(X) and X.format == "csr" and X.dtype == np.float32
    assert_allclose(X.toarray(), X_ref.toarray(), rtol=1e-6, atol=1e-7)


def test_matches_hand_written_nltk_pipeline(no_nltk_data):
    vectorizer = TextVectorizer()
    X = vectorizer.fit_transform(CORPUS)
    reference, X_ref = reference_tfidf(CORPUS, ENGLISH_STOP_WORDS)
    assert_same_tfidf(vectorizer, X, reference, X_ref)
    assert_allclose(vectorizer.idf_, reference.idf_, rtol=1e-6)

    names = set(vectorizer.get_feature_names_out())
    assert {"run", "runner", "dog", "bark", "sing"} <= names
    assert not names & {"running", "runs", "dogs", "the", "are", "and", "a"}
    assert "one" in names and not names & {"thi", "wa", "becom"}
    assert vectorizer.vocabulary_ == reference.vocabulary_


def test_bigrams_are_of_stemmed_tokens(no_nltk_data):
    vectorizer = TextVectorizer(ngram_range=(1, 2))
    X = vectorizer.fit_transform(CORPUS)
    reference, X_ref = reference_tfidf(CORPUS, ENGLISH_STOP_WORDS, ngram_range=(1, 2))
    assert_same_tfidf(vectorizer, X, reference, X_ref)
    names = set(vectorizer.get_feature_names_out())
    # "dogs are barking": "are" is dropped before the bigrams are formed.
    assert {"dog bark", "run quickli", "bird sing"} <= names


def test_tfidf_parameters_pass_through(no_nltk_data):
    params = dict(sublinear_tf=True, norm="l1", smooth_idf=False, min_df=2, max_df=0.9)
    vectorizer = TextVectorizer(**params)
    X = vectorizer.fit_transform(CORPUS)
    reference, X_ref = reference_tfidf(CORPUS, ENGLISH_STOP_WORDS, **params)
    assert_same_tfidf(vectorizer, X, reference, X_ref)

    X_top = TextVectorizer(max_features=3, use_idf=False).fit_transform(CORPUS)
    assert X_top.shape == (len(CORPUS), 3)
    assert not hasattr(TextVectorizer(use_idf=False).fit(CORPUS), "idf_")


def test_transform_uses_fitted_vocabulary(no_nltk_data):
    vectorizer = TextVectorizer().fit(CORPUS)
    new = ["Running dogs and unknown zebras", "nothing known here"]
    X = vectorizer.transform(new)
    reference, _ = reference_tfidf(CORPUS, ENGLISH_STOP_WORDS)
    X_ref = reference.transform([reference_terms(t, ENGLISH_STOP_WORDS) for t in new])
    assert_allclose(X.toarray(), X_ref.toarray(), rtol=1e-6, atol=1e-7)
    assert X[1].nnz == 0


def test_stemmers_and_no_stopwords(no_nltk_data):
    vectorizer = TextVectorizer(stop_words=None, stemmer=None).fit(CORPUS)
    names = set(vectorizer.get_feature_names_out())
    assert {"the", "running", "runners", "are"} <= names
    assert vectorizer.stop_words_source_ == "none"

    snowball = TextVectorizer(stemmer="snowball").fit(CORPUS)
    expected = {SnowballStemmer("english").stem(w) for w in ("happily", "quickly", "running")}
    assert expected <= set(snowball.get_feature_names_out())

    lancaster = TextVectorizer(stemmer="lancaster").fit(CORPUS)
    assert lancaster.get_feature_names_out().size > 0

    custom = TextVectorizer(stop_words=["dogs", "cats"], stemmer=None).fit(CORPUS)
    assert custom.stop_words_source_ == "custom"
    names = set(custom.get_feature_names_out())
    assert "the" in names and not {"dogs", "cats"} & names


def test_without_nltk_data_uses_sklearn_stopwords(no_nltk_data):
    assert not nltk_stopwords_available("english")
    vectorizer = TextVectorizer(stemmer=None).fit(["amongst the whereafter hello world"])
    assert vectorizer.stop_words_source_ == "sklearn"
    assert vectorizer.tokenizer_.stop_words == ENGLISH_STOP_WORDS
    # "amongst" and "whereafter" are in scikit-learn's list only.
    assert_array_equal(vectorizer.get_feature_names_out(), ["hello", "world"])


def test_without_nltk_data_other_language_raises(no_nltk_data):
    with pytest.raises(LookupError, match="stopwords"):
        TextVectorizer(stop_words="french", language="french", stemmer="snowball").fit(["le chat"])
    # No stopwords needed: French works without any corpus.
    french = TextVectorizer(stop_words=None, language="french", stemmer="snowball")
    assert "continuel" in french.fit(["continuellement"]).get_feature_names_out()


@pytest.fixture
def fake_stopwords_corpus(tmp_path, monkeypatch):
    """An installed-looking NLTK stopwords corpus with a tiny English list."""
    (tmp_path / "corpora" / "stopwords").mkdir(parents=True)
    (tmp_path / "corpora" / "stopwords" / "english").write_text("hello\nthe\n", encoding="utf8")
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    reader = getattr(nltk.corpus.reader, "StopwordsCorpusReader", WordListCorpusReader)
    monkeypatch.setattr(
        nltk.corpus,
        "stopwords",
        LazyCorpusLoader("stopwords", reader, r"(?!README|\.).*", encoding="utf8"),
    )


def test_installed_stopwords_corpus_is_read_through_nltk(fake_stopwords_corpus):
    assert nltk_stopwords_available("english")
    vectorizer = TextVectorizer(stemmer=None).fit(["hello the amongst world"])
    assert vectorizer.stop_words_source_ == "nltk"
    assert vectorizer.tokenizer_.stop_words == {"hello", "the"}
    assert_array_equal(vectorizer.get_feature_names_out(), ["amongst", "world"])


def test_real_nltk_stopwords_used_when_installed():
    if not nltk_stopwords_available("english"):
        pytest.skip("NLTK 'stopwords' corpus not installed here")
    vectorizer = TextVectorizer().fit(CORPUS)
    assert vectorizer.stop_words_source_ == "nltk"
    assert vectorizer.tokenizer_.stop_words == set(nltk.corpus.stopwords.words("english"))


def test_language_mismatch_and_english_only_stemmers():
    with pytest.raises(ValueError, match="does not match language"):
        TextVectorizer(language="french", stemmer="snowball").fit(CORPUS)
    with pytest.raises(ValueError, match="English-only"):
        TextVectorizer(language="french", stop_words=None).fit(CORPUS)
    with pytest.raises(ValueError, match="stemmer must be one of"):
        TextVectorizer(stemmer="krovetz").fit(CORPUS)


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_missing_and_empty_texts_give_zero_rows(missing):
    texts = [CORPUS[0], "", missing, CORPUS[1], "  ?! "]
    vectorizer = TextVectorizer()
    X = vectorizer.fit_transform(texts)
    assert X.shape[0] == 5
    assert_array_equal(X.getnnz(axis=1)[[1, 2, 4]], [0, 0, 0])
    assert X[0].nnz > 0 and X[3].nnz > 0
    assert vectorizer.n_missing_ == 1
    assert_allclose(vectorizer.transform(texts).toarray(), X.toarray(), rtol=1e-6)

    # Only missing texts, or none at all, at transform time.
    for column in ([missing, missing], []):
        X_missing = vectorizer.transform(column)
        assert X_missing.shape == (len(column), X.shape[1]) and X_missing.nnz == 0
        assert X_missing.format == "csr" and X_missing.dtype == np.float32

    # A missing text is absent from the document frequencies; an empty one counts.
    without_missing = TextVectorizer().fit([t for i, t in enumerate(texts) if i != 2])
    assert_allclose(vectorizer.idf_, without_missing.idf_)
    without_empty = TextVectorizer().fit([CORPUS[0], CORPUS[1]])
    assert not np.allclose(vectorizer.idf_, without_empty.idf_)


@pytest.mark.parametrize("texts", [["", "   ", "!!"], [None, np.nan], ["the a of", None]])
def test_fit_without_any_term_names_text(texts):
    with pytest.raises(ValueError, match="text"):
        TextVectorizer().fit(texts)


def test_fit_on_zero_samples_raises():
    with pytest.raises(ValueError, match="text: fit needs at least one sample"):
        TextVectorizer().fit([])


@pytest.mark.parametrize("bad", [7, b"bytes", 3.5, ["a"]])
def test_non_str_cell_raises_media_error(bad):
    with pytest.raises(MediaError, match="sample 2") as info:
        TextVectorizer().fit(["one text", "two texts", bad])
    assert info.value.modality == "text" and info.value.sample == 2
    fitted = TextVectorizer().fit(CORPUS)
    with pytest.raises(MediaError, match="text sample 2"):
        fitted.transform(["one text", "two texts", bad])


def test_two_column_dataframe_is_rejected():
    frame = pd.DataFrame({"title": CORPUS, "body": CORPUS})
    with pytest.raises(ValueError, match="text: expected one column"):
        TextVectorizer().fit(frame)


def test_input_containers_agree():
    series = pd.Series(CORPUS + [None], index=range(10, 10 + len(CORPUS) + 1), name="caption")
    expected = TextVectorizer().fit_transform(CORPUS + [None]).toarray()
    for X in (
        series,
        series.to_frame(),
        np.array(series.tolist(), dtype=object),
        np.array(series.tolist(), dtype=object)[:, None],
        tuple(series),
    ):
        assert_allclose(TextVectorizer().fit_transform(X).toarray(), expected)


def test_pickle_clone_and_refit_are_stable():
    vectorizer = TextVectorizer(ngram_range=(1, 2), stemmer="snowball")
    X = vectorizer.fit_transform(CORPUS)

    restored = pickle.loads(pickle.dumps(vectorizer))
    assert_allclose(restored.transform(CORPUS).toarray(), X.toarray())
    assert restored.tokenizer_.stop_words == vectorizer.tokenizer_.stop_words

    cloned = clone(vectorizer)
    assert not hasattr(cloned, "vectorizer_")
    assert cloned.get_params() == vectorizer.get_params()
    assert_allclose(cloned.fit_transform(CORPUS).toarray(), X.toarray())

    assert_allclose(vectorizer.fit(CORPUS).transform(CORPUS).toarray(), X.toarray())
    assert_allclose(vectorizer.fit(CORPUS[:2]).fit(CORPUS).transform(CORPUS).toarray(), X.toarray())


def test_not_fitted():
    with pytest.raises(NotFittedError):
        TextVectorizer().transform(CORPUS)
    with pytest.raises(NotFittedError):
        TextVectorizer().get_feature_names_out()


def test_in_a_pipeline_with_a_classifier():
    texts = CORPUS * 2
    labels = [0, 0, 1, 1, 1, 0] * 2
    model = Pipeline([("text", TextVectorizer()), ("clf", LogisticRegression())])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(texts, labels)
    assert model.predict(["dogs barking and birds singing"]).shape == (1,)
    assert model.score(texts, labels) == 1.0


def test_unicode_and_accents():
    vectorizer = TextVectorizer(stemmer=None).fit(
        ["Café naïve résumé", "Ελληνικά κείμενα, και ΕΛΛΗΝΙΚΑ!", "x_y __ -- 2024"]
    )
    names = set(vectorizer.get_feature_names_out())
    assert {"café", "naïve", "résumé", "ελληνικά", "κείμενα", "και", "x_y", "2024"} <= names
    assert not names & {"__", "--", ",", "caf", "na", "ve"}
    # A decomposed "é" (e + combining accent) is the same word.
    decomposed = unicodedata.normalize("NFD", "Café")
    assert decomposed != "Café"
    assert_allclose(
        vectorizer.transform([decomposed]).toarray(), vectorizer.transform(["Café"]).toarray()
    )

    stemmed = TextVectorizer().fit(["Café naïve résumé running"])
    assert "run" in stemmed.get_feature_names_out()

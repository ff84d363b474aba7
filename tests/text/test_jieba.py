"""Chinese word segmentation with jieba in TextVectorizer (issue 16, part 4)."""

import builtins
import pickle

import numpy as np
import pytest
from sklearn.base import clone

from mmfuse.text import NLTKTokenizer, TextVectorizer

jieba = pytest.importorskip("jieba")

TEXTS = ["我爱北京天安门。", "今天天气很好，我们去公园散步吧！", "北京的天气今天很好 OK"]


def _reference_terms(text):
    """jieba's own words, without punctuation and spaces, lower-cased."""
    return [w.lower() for w in jieba.lcut(text) if any(c.isalnum() for c in w)]


def test_tokens_are_jiebas_words():
    tokenize = NLTKTokenizer(segmenter="jieba", min_token_length=1)
    for text in TEXTS:
        assert tokenize(text) == _reference_terms(text)


def test_vectorizer_vocabulary_and_counts_follow_jieba():
    vectorizer = TextVectorizer(segmenter="jieba", stop_words=None, stemmer=None,
                                use_idf=False, norm=None, min_token_length=1)
    counts = vectorizer.fit_transform(TEXTS).toarray()
    vocabulary = list(vectorizer.get_feature_names_out())
    expected = sorted({w for t in TEXTS for w in _reference_terms(t)})
    assert vocabulary == expected
    for row, text in zip(counts, TEXTS, strict=True):
        words = _reference_terms(text)
        np.testing.assert_array_equal(row, [words.count(w) for w in vocabulary])


def test_one_character_words_kept_latin_min_length_applies():
    terms = NLTKTokenizer(segmenter="jieba")("我爱 a big 北京")
    assert "我" in terms and "爱" in terms and "a" not in terms and "big" in terms


def test_no_unsegmented_warning_pickle_and_clone():
    vectorizer = TextVectorizer(segmenter="jieba", stop_words=None)
    with pytest.warns(UserWarning, match="char_wb"):
        TextVectorizer(stop_words=None).fit(TEXTS)  # without segmentation: warned
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = vectorizer.fit(TEXTS)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.transform(TEXTS).toarray(),
                               fitted.transform(TEXTS).toarray())
    assert clone(vectorizer).get_params()["segmenter"] == "jieba"


def test_missing_jieba_is_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def no_jieba(name, *args, **kwargs):
        if name == "jieba":
            raise ImportError("No module named 'jieba'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jieba)
    with pytest.raises(ImportError, match="pip install jieba"):
        NLTKTokenizer(segmenter="jieba")
    with pytest.raises(ValueError, match="segmenter"):
        NLTKTokenizer(segmenter="mecab")

"""Character n-grams (Chinese, mixed scripts), lemmas, per-language stopwords, cleaning,
LSA/LDA topics and encoding-detecting loaders, each against an independent reference."""

from __future__ import annotations

import pickle
import re
import unicodedata
import warnings
import xml.etree.ElementTree as ET

import nltk.corpus
import nltk.data
import numpy as np
import pytest
import scipy.sparse as sp
from nltk.corpus.reader import WordListCorpusReader
from nltk.corpus.util import LazyCorpusLoader
from nltk.stem import SnowballStemmer
from sklearn.base import clone
from sklearn.decomposition import LatentDirichletAllocation, TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import normalize
from sklearn.utils.estimator_checks import parametrize_with_checks

import mmfuse.text._normalize as normalize_module
from mmfuse.exceptions import MediaError
from mmfuse.text import (
    LDATopics,
    LSATopics,
    TextCleaner,
    TextVectorizer,
    clean_text,
    detect_encoding,
    load_text_files,
    read_text_file,
    strip_markup,
    unsegmented_share,
)
from mmfuse.utils.estimator_checks import (
    check_clone_and_params,
    check_not_fitted,
    check_wrong_input_clear_error,
)

# Two topics, in Chinese: weather and food. No spaces between words.
CHINESE = {
    "weather": ["今天天气很好，阳光明媚。", "明天会下雨，天气变冷。", "天气预报说下午有大雨。",
                "这几天天气很热，阳光很强。", "下雨天气温降低，要多穿衣服。"],
    "food": ["我喜欢吃北京烤鸭和饺子。", "这家饭馆的饺子很好吃。", "晚饭我们吃米饭和青菜。",
             "烤鸭是北京有名的菜。", "妈妈做的饭菜很好吃。"],
}


@pytest.fixture
def no_nltk_data(monkeypatch):
    def find(resource_name, paths=None):
        raise LookupError(f"simulated missing NLTK resource {resource_name!r}")

    monkeypatch.setattr(nltk.data, "find", find)


def _reference_terms(text):
    """NFC, WordPunct tokens, lower case, >= 2 characters with a letter or digit."""
    tokens = re.findall(r"\w+|[^\w\s]+", unicodedata.normalize("NFC", text))
    return [t.lower() for t in tokens if len(t) >= 2 and any(c.isalnum() for c in t)]


# -- character n-grams ------------------------------------------------------------------------
@pytest.mark.parametrize("analyzer", ["char", "char_wb"])
def test_char_ngrams_match_sklearn_on_normalised_text(analyzer):
    texts = ["The Runners' café — running FAST!", "naïve runners run", "x y zz"]
    vectorizer = TextVectorizer(analyzer=analyzer, ngram_range=(2, 4), stop_words=None,
                                stemmer=None)
    X = vectorizer.fit_transform(texts)
    joined = [" ".join(_reference_terms(t)) for t in texts]
    reference = TfidfVectorizer(analyzer=analyzer, ngram_range=(2, 4), lowercase=False,
                                dtype=np.float32)
    X_ref = reference.fit_transform(joined)
    np.testing.assert_array_equal(vectorizer.get_feature_names_out(),
                                  reference.get_feature_names_out())
    np.testing.assert_allclose(X.toarray(), X_ref.toarray(), rtol=1e-6, atol=1e-7)
    if analyzer == "char_wb":
        assert not any(" " in name.strip() for name in vectorizer.get_feature_names_out())


def test_chinese_corpus_gives_sensible_character_features():
    texts = CHINESE["weather"] + CHINESE["food"]
    labels = np.array([0] * 5 + [1] * 5)
    vectorizer = TextVectorizer(analyzer="char_wb", ngram_range=(1, 2), stop_words=None,
                                stemmer=None)
    X = vectorizer.fit_transform(texts)
    names = set(vectorizer.get_feature_names_out())
    # words of the corpus appear as character bigrams; punctuation never does
    assert {"天气", "阳光", "下雨", "饺子", "烤鸭", "北京", "好吃"} <= {n.strip() for n in names}
    assert not any(ch in name for name in names for ch in "，。")
    # every document's nearest neighbour is on the same topic
    similarity = cosine_similarity(X)
    np.fill_diagonal(similarity, -1)
    assert np.all(labels[similarity.argmax(axis=1)] == labels)
    # a classifier separates held-out sentences
    model = make_pipeline(TextVectorizer(analyzer="char_wb", ngram_range=(1, 2), stop_words=None,
                                         stemmer=None), LogisticRegression(C=10))
    model.fit(texts, labels)
    assert model.predict(["今天下大雨，天气很冷。", "我想吃饺子和烤鸭。"]).tolist() == [0, 1]


def test_word_analyzer_on_unsegmented_text_warns():
    with pytest.warns(UserWarning, match="char_wb"):
        TextVectorizer(stop_words=None).fit(CHINESE["food"])
    assert unsegmented_share(["天气", "ab"]) == pytest.approx(0.5)
    assert unsegmented_share(["ภาษาไทย"]) == pytest.approx(1.0)  # Thai
    assert unsegmented_share(["한국어 문장"]) == 0.0  # Korean separates words with spaces


def test_mixed_script_text():
    texts = ["我用Python写代码，也用C语言。", "I love 编程 and machine learning!",
             "Москва — столица России, 北京是中国的首都。"]
    word = TextVectorizer(stop_words=None, stemmer=None).fit(texts)
    names = set(word.get_feature_names_out())
    assert {"love", "machine", "learning", "москва", "столица", "编程"} <= names
    char = TextVectorizer(analyzer="char_wb", ngram_range=(1, 2), stop_words=None,
                          stemmer=None).fit(texts)
    names = {n.strip() for n in char.get_feature_names_out()}
    assert {"编程", "首都", "py", "ск", "北京"} <= names
    X = char.transform(texts)
    assert X.shape == (3, len(char.get_feature_names_out())) and X.getnnz(axis=1).min() > 10


def test_analyzer_is_validated():
    with pytest.raises(ValueError, match="analyzer must be one of"):
        TextVectorizer(analyzer="sentence").fit(["a text"])


# -- lemmas and stopwords ---------------------------------------------------------------------
def test_wordnet_without_data_falls_back_to_porter(no_nltk_data):
    texts = ["The geese were running to the dogs", "A goose runs"]
    with pytest.warns(UserWarning, match=r"wordnet.*nltk.download\('wordnet'\).*porter"):
        lemmas = TextVectorizer(stemmer="wordnet").fit(texts)
    assert lemmas.stemmer_ == "porter"
    porter = TextVectorizer(stemmer="porter").fit(texts)
    np.testing.assert_array_equal(lemmas.get_feature_names_out(),
                                  porter.get_feature_names_out())
    with pytest.raises(ValueError, match="English-only"):
        TextVectorizer(stemmer="wordnet", language="french", stop_words=None).fit(texts)


def test_wordnet_lemmas_when_the_corpus_is_installed(monkeypatch):
    """With WordNet present, tokens go through WordNetLemmatizer.lemmatize (stubbed here with
    a known lemma table, since the corpus itself is not installed on test machines)."""
    table = {"geese": "goose", "dogs": "dog", "mice": "mouse"}
    monkeypatch.setattr(normalize_module, "wordnet_available", lambda: True)
    monkeypatch.setattr(normalize_module.WordNetLemmatizer, "lemmatize",
                        lambda self, word, pos="n": table.get(word, word))
    vectorizer = TextVectorizer(stemmer="wordnet").fit(["Geese chase dogs", "mice and dogs"])
    assert vectorizer.stemmer_ == "wordnet"
    assert set(vectorizer.get_feature_names_out()) == {"goose", "chase", "dog", "mouse"}


def test_real_wordnet_if_installed():
    if not normalize_module.wordnet_available():
        pytest.skip("NLTK 'wordnet' corpus not installed here")
    names = TextVectorizer(stemmer="wordnet").fit(["geese dogs"]).get_feature_names_out()
    assert set(names) == {"goose", "dog"}


@pytest.fixture
def french_stopwords(tmp_path, monkeypatch):
    """An installed-looking NLTK stopwords corpus holding a French list."""
    (tmp_path / "corpora" / "stopwords").mkdir(parents=True)
    (tmp_path / "corpora" / "stopwords" / "french").write_text("le\nla\nles\net\nde\n",
                                                                 encoding="utf8")
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    reader = getattr(nltk.corpus.reader, "StopwordsCorpusReader", WordListCorpusReader)
    monkeypatch.setattr(nltk.corpus, "stopwords",
                        LazyCorpusLoader("stopwords", reader, r"(?!README|\.).*",
                                         encoding="utf8"))


def test_stopwords_and_stemmer_per_language(french_stopwords):
    texts = ["Les chats et les chiens mangent", "le chat mange de la viande"]
    vectorizer = TextVectorizer(stop_words="french", language="french", stemmer="snowball")
    vectorizer.fit(texts)
    assert vectorizer.stop_words_source_ == "nltk"
    stem = SnowballStemmer("french").stem
    expected = {stem(w) for w in ("chats", "chiens", "mangent", "chat", "mange", "viande")}
    assert set(vectorizer.get_feature_names_out()) == expected


def test_vocabulary_cap_df_limits_and_sublinear_tf():
    texts = ["apple apple apple banana", "apple cherry", "banana cherry date", "apple date"]
    X = TextVectorizer(stop_words=None, stemmer=None, max_features=2, sublinear_tf=True,
                       norm=None, use_idf=False).fit_transform(texts)
    assert X.shape == (4, 2)
    # apple (4 occurrences) and banana/cherry/date (2 each; ties broken alphabetically)
    np.testing.assert_allclose(X.toarray()[0], [1 + np.log(3), 1.0])
    pruned = TextVectorizer(stop_words=None, stemmer=None, min_df=2, max_df=0.6).fit(texts)
    assert set(pruned.get_feature_names_out()) == {"banana", "cherry", "date"}


# -- cleaning ---------------------------------------------------------------------------------
def test_strip_markup_matches_xml_text_content():
    document = ("<doc><title>Fish &amp; chips</title><body><p>Best in <b>town</b>.</p>"
                "<p>Open<br/>daily</p><![CDATA[raw <text>]]></body></doc>")
    # ElementTree (a strict XML parser) gives the same characters; it glues the text of
    # neighbouring elements, where strip_markup puts a space at every tag
    reference = "".join(ET.fromstring(document).itertext())
    assert "".join(strip_markup(document).split()) == "".join(reference.split())
    words = strip_markup(document).split()
    assert "chips" in words and "Best" in words and "Open" in words and "daily" in words


def test_strip_markup_drops_scripts_styles_comments_and_survives_broken_html():
    html = ("<html><head><style>p {color: red}</style><script>alert('x')</script></head>"
            "<body><!-- note --><p>Tom &amp; Jerry &lt;3<p>AT&T & co</b></i></div>")
    assert strip_markup(html).split() == ["Tom", "&", "Jerry", "<3", "AT&T", "&", "co"]


def test_clean_text_urls_emails_numbers_and_unicode():
    text = ("Read https://example.org/a_b?x=1. Mail bob.smith+tag@mail.example.co.uk, "
            "or www.example.com/x. On 12/05 at 12:30, 3.5% of 1,000 people — not covid19 or mp3.")
    removed = clean_text(text, numbers="remove")
    assert "example" not in removed and "@" not in removed
    assert "covid19" in removed and "mp3" in removed
    assert not re.search(r"(?<!\w)\d", removed)
    tokens = clean_text(text, urls="token", emails="token", numbers="token")
    assert tokens.count("_url_") == 2 and tokens.count("_email_") == 1
    assert tokens.count("_num_") == 4  # 12/05, 12:30, 3.5%, 1,000
    kept = clean_text(text, urls="keep", emails="keep", markup=False)
    assert "https://example.org/a_b?x=1" in kept and "bob.smith+tag@mail.example.co.uk" in kept

    odd = "Ｆｕｌｌ ｗｉｄｔｈ ﬁne x² e\u0301te\u0301"
    for form in ("NFC", "NFKC", "NFD", "NFKD"):
        assert clean_text(odd, unicode_form=form) == unicodedata.normalize(form, odd)
    assert clean_text("  a \n\t b  ") == "a b"
    assert clean_text("  a \n b", collapse_whitespace=False) == "  a \n b"
    with pytest.raises(ValueError, match="numbers must be one of"):
        clean_text("x", numbers="drop")
    with pytest.raises(TypeError):
        clean_text(b"bytes")


def test_text_cleaner_column_and_pipeline():
    pages = ["<p>Cats &amp; dogs</p> http://pets.example", None, "<i>2 dogs</i>", np.nan]
    cleaner = TextCleaner(numbers="token").fit(pages)
    out = cleaner.transform(pages)
    assert out.tolist() == ["Cats & dogs", None, "_num_ dogs", None]
    assert cleaner.n_missing_ == 2
    model = make_pipeline(TextCleaner(), TextVectorizer())
    X = model.fit_transform(pages)
    assert X.shape == (4, 2) and X[1].nnz == 0 and X[3].nnz == 0
    with pytest.raises(MediaError, match="text sample 1"):
        cleaner.transform(["fine", 12])
    # the media suite compares numeric outputs; these are its checks that apply to str output
    check_clone_and_params(TextCleaner(), pages)
    check_not_fitted(TextCleaner(), pages)
    check_wrong_input_clear_error(TextCleaner(), pages, bad_inputs=[np.zeros((2, 2)), "one"])
    restored = pickle.loads(pickle.dumps(cleaner))
    assert restored.transform(pages).tolist() == out.tolist()
    assert clone(cleaner).fit(pages).transform(pages).tolist() == out.tolist()


# -- topics -----------------------------------------------------------------------------------
TOPIC_DOCS = [
    "cats purr and cats meow at night", "dogs bark and dogs fetch balls",
    "a cat and a dog play together", "kittens and puppies are cute pets",
    "stocks fell as markets slid today", "markets rallied and stocks rose",
    "investors sold shares as prices fell", "the bank raised interest rates on loans",
] * 3


def test_lsa_matches_truncated_svd_and_names_topics():
    tfidf = TextVectorizer().fit(TOPIC_DOCS)
    X = tfidf.transform(TOPIC_DOCS)
    lsa = LSATopics(n_components=3, random_state=0).fit(X)
    reference = TruncatedSVD(n_components=3, random_state=0)
    expected = normalize(reference.fit_transform(X))
    np.testing.assert_allclose(lsa.transform(X), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(LSATopics(n_components=3, random_state=0).fit_transform(X),
                               expected, rtol=1e-5, atol=1e-6)
    raw = LSATopics(n_components=3, normalize=False, random_state=0).fit(X).transform(X)
    np.testing.assert_allclose(raw, reference.transform(X), rtol=1e-5, atol=1e-6)

    names = tfidf.get_feature_names_out()
    top = lsa.top_terms(names, n_terms=4)
    index = {name: j for j, name in enumerate(names)}
    for k, terms in enumerate(top):  # the 4 heaviest loadings, in decreasing order (ties aside)
        loadings = reference.components_[k]
        chosen = loadings[[index[t] for t in terms]]
        assert np.all(np.diff(chosen) <= 1e-6)
        rest = np.delete(loadings, [index[t] for t in terms])
        assert chosen.min() >= rest.max() - 1e-6
    model = make_pipeline(TextVectorizer(), LSATopics(n_components=3, random_state=0))
    model.fit(TOPIC_DOCS)
    out_names = model.get_feature_names_out()
    pipeline_top = model[-1].top_terms(model[0].get_feature_names_out(), n_terms=3)
    assert out_names.tolist() == ["lsa" + f"{k}:" + "+".join(t) for k, t in
                                  enumerate(pipeline_top)]
    assert set(pipeline_top[0]) <= set(top[0]) | set(top[1]) | set(top[2])
    assert LSATopics(n_components=3).fit(X).get_feature_names_out().tolist() == [
        "lsa0", "lsa1", "lsa2"]
    with pytest.raises(ValueError, match="n_components=50 must be below"):
        LSATopics(n_components=50).fit(X)


def _lda_corpus(seed=0, n_docs=40, length=40):
    """Documents drawn from two known topics with disjoint vocabularies (the generative truth)."""
    rng = np.random.default_rng(seed)
    vocab = [["kitten", "puppy", "purr", "bark", "fetch", "leash", "whisker", "paw"],
             ["stock", "market", "share", "bond", "yield", "bank", "loan", "price"]]
    topics = rng.integers(0, 2, size=n_docs)
    docs = [" ".join(rng.choice(vocab[t], size=length)) for t in topics]
    return docs, topics


def test_lda_matches_sklearn_and_recovers_known_topics():
    docs, truth = _lda_corpus()
    counts = TextVectorizer(use_idf=False, norm=None, stemmer=None).fit_transform(docs)
    lda = LDATopics(n_components=2, random_state=0, max_iter=30).fit(counts)
    theta = lda.transform(counts)
    found = theta.argmax(axis=1)
    assert max(np.mean(found == truth), np.mean(found != truth)) == 1.0
    assert lda.n_iter_ <= 30


def test_lda_matches_sklearn():
    counts_vectorizer = TextVectorizer(use_idf=False, norm=None)
    counts = counts_vectorizer.fit_transform(TOPIC_DOCS)
    assert np.allclose(counts.data, np.round(counts.data))
    lda = LDATopics(n_components=2, random_state=0, max_iter=30).fit(counts)
    reference = LatentDirichletAllocation(n_components=2, random_state=0, max_iter=30)
    expected = reference.fit(counts).transform(counts)
    theta = lda.transform(counts)
    np.testing.assert_allclose(theta, expected, rtol=1e-6)
    np.testing.assert_allclose(theta.sum(axis=1), 1.0)
    np.testing.assert_allclose(lda.topic_word_distribution_.sum(axis=1), 1.0)
    names = make_pipeline(TextVectorizer(use_idf=False, norm=None),
                          LDATopics(n_components=2, random_state=0)).fit(TOPIC_DOCS) \
        .get_feature_names_out()
    assert all(name.startswith(f"lda{k}:") for k, name in enumerate(names))
    with pytest.warns(UserWarning, match="term counts"):
        LDATopics(n_components=2, random_state=0).fit(TextVectorizer().fit_transform(TOPIC_DOCS))
    assert sp.issparse(counts)


@parametrize_with_checks([LSATopics(n_components=1, random_state=0),
                          LDATopics(n_components=2, max_iter=5, random_state=0)])
def test_topic_transformers_pass_sklearn_checks(estimator, check):
    with warnings.catch_warnings():
        # the checks feed random floats, not counts: LDATopics rightly says so
        warnings.filterwarnings("ignore", message="LDATopics: the input holds non-integer")
        check(estimator)


# -- loaders ----------------------------------------------------------------------------------
SAMPLES = {
    "utf-8": "Grüße aus Köln — naïve café, 北京.",
    "gb18030": "我们喜欢在北京的公园里散步，天气很好的时候尤其如此。自然语言处理很有趣。",
    "shift_jis": "私たちは東京の公園を散歩するのが好きです。天気が良い日は特にそうです。",
    "cp1251": "Привет, мир! Это текст на русском языке, который написан в кодировке Windows.",
    "latin-1": "Der Bär läuft über die Straße, während die Größe des Flusses zunimmt.",
}


@pytest.mark.parametrize("encoding", list(SAMPLES))
def test_files_in_other_encodings_round_trip(tmp_path, encoding):
    text = SAMPLES[encoding]
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    decoded, used = read_text_file(path, return_encoding=True)
    assert decoded == text
    assert text.encode(used) == text.encode(encoding)  # an equivalent codec was found


@pytest.mark.parametrize("bom_encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-32"])
def test_byte_order_marks(tmp_path, bom_encoding):
    text = "Привет, 世界"
    data = text.encode(bom_encoding)
    if bom_encoding == "utf-16-le":
        data = b"\xff\xfe" + data
    assert read_text_file(data) == text
    assert detect_encoding(data) in {"utf-8-sig", "utf-16", "utf-32"}


def test_explicit_and_candidate_encodings():
    data = "Crème brûlée à la française".encode("cp1252")
    assert read_text_file(data, encoding="cp1252") == "Crème brûlée à la française"
    assert read_text_file(data, encoding=("utf-8", "cp1252"), return_encoding=True) == (
        "Crème brûlée à la française", "cp1252")
    with pytest.raises(MediaError, match=r"cannot decode as utf-8.*tried: utf-8"):
        read_text_file(data, encoding="utf-8")
    assert "\ufffd" in read_text_file(data, encoding="utf-8", errors="replace")


def test_undetectable_and_missing_files(tmp_path):
    binary = bytes(range(256)) * 4
    with pytest.raises(MediaError, match="cannot detect the text encoding"):
        read_text_file(binary)
    with pytest.raises(MediaError, match="not found"):
        read_text_file(tmp_path / "absent.txt")
    good = tmp_path / "good.txt"
    good.write_text("hello", encoding="utf-8")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(binary)
    with pytest.raises(MediaError, match="text sample 1"):
        load_text_files([good, bad])
    with pytest.warns(UserWarning, match=r"2 unreadable file.*samples \[1, 2\]"):
        texts = load_text_files([good, bad, tmp_path / "absent.txt"], on_error="missing")
    assert texts == ["hello", None, None]
    assert TextVectorizer().fit_transform(texts).shape[0] == 3

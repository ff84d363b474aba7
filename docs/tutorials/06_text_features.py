# %% [markdown]
# # Text features in any language
#
# Texts arrive as HTML pages, files in legacy encodings, or in scripts that
# do not separate words with spaces. This tutorial goes through the text
# side of mmfuse:
#
# 1. reading files whatever their encoding (`read_text_file`, `load_text_files`);
# 2. cleaning markup, URLs, numbers and Unicode variants (`TextCleaner`);
# 3. TF-IDF over word n-grams (NLTK tokenising, stopwords, stemming or WordNet
#    lemmas) or character n-grams (`TextVectorizer`), the latter for Chinese,
#    Japanese, Thai and mixed-script text;
# 4. topic features that slot after the vectorizer: LSA (`LSATopics`) and
#    LDA (`LDATopics`), with topics named by their top terms.
#
# Nothing here needs downloaded NLTK data: stopwords fall back to
# scikit-learn's English list and WordNet lemmatisation to the Porter
# stemmer, with a warning.

# %%
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from mmfuse.text import (
    LDATopics,
    LSATopics,
    TextCleaner,
    TextVectorizer,
    load_text_files,
    read_text_file,
)

# %% [markdown]
# ## Files in any encoding
#
# `read_text_file` honours a byte-order mark, accepts UTF-8, and otherwise
# detects the encoding with `charset-normalizer`. When you know the
# candidates, pass them in order (`encoding=("utf-8", "cp1252")`): the first
# that decodes wins. Undetectable data is an error that names the file.

# %%
folder = Path(tempfile.mkdtemp())
samples = {
    "zh.txt": ("我们喜欢在北京的公园里散步，天气很好的时候尤其如此。", "gb18030"),
    "ru.txt": ("Привет, мир! Это текст на русском языке в кодировке Windows.", "cp1251"),
    "de.txt": ("Grüße aus Köln: über die Brücke zur Straße.", "utf-16"),
}
for name, (text, encoding) in samples.items():
    (folder / name).write_bytes(text.encode(encoding))
for name in samples:
    text, used = read_text_file(folder / name, return_encoding=True)
    print(f"{name}: {used:8s} {text[:30]}")
(folder / "blob.bin").write_bytes(bytes(range(256)) * 4)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    texts = load_text_files(sorted(folder.iterdir()), on_error="missing")
print([t is None for t in texts], "|", str(caught[0].message)[:80], "...")

# %% [markdown]
# ## Cleaning
#
# `TextCleaner` strips HTML/XML (scripts and styles included; entities
# decoded), normalises Unicode (NFKC folds full-width letters and digits,
# ligatures), removes or tokenises URLs, e-mail addresses and numbers, and
# leaves missing cells missing. Put it in front of the vectorizer.

# %%
pages = [
    "<html><style>p{}</style><p>Ｆｒｅｓｈ fish &amp; chips, only 3.50!</p>"
    "<a href='x'>https://chips.example/menu</a></html>",
    "<div>Fish soup: call 555-0100 or mail chef@soup.example</div>",
    None,
]
print(TextCleaner(numbers="token").fit_transform(pages).tolist())

# %% [markdown]
# ## Word n-grams: tokens, stopwords, stems or lemmas
#
# The word analyzer uses NLTK's tokenizer and stemmers. `stemmer="wordnet"`
# asks for WordNet lemmas ("geese" -> "goose"); without the WordNet corpus it
# warns and falls back to Porter, and `stemmer_` says which was used.
# `min_df`, `max_df`, `max_features` (a vocabulary cap) and `sublinear_tf`
# are scikit-learn's TF-IDF options.

# %%
english = ["The geese were flying over the lakes", "A goose flies over a lake",
           "Stock markets fell sharply today", "Markets rallied as stocks rose"]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    words = TextVectorizer(stemmer="wordnet", ngram_range=(1, 2), max_features=12,
                           sublinear_tf=True).fit(english)
print("stemmer used:", words.stemmer_, "|", [str(w.message)[:60] for w in caught])
print(words.get_feature_names_out())

# %% [markdown]
# ## Characters for scripts without spaces
#
# Chinese has no spaces between words, so a word tokenizer returns whole
# clauses (and `TextVectorizer` warns). Character n-grams need no
# segmentation: unigrams and bigrams of characters capture most Chinese
# words, which are one or two characters long. `char_wb` keeps n-grams
# inside whitespace-separated tokens (a run of Chinese and Latin letters
# without a space is one token).

# %%
chinese = [
    "今天天气很好，阳光明媚。", "明天会下雨，天气变冷。", "天气预报说下午有大雨。",
    "这几天天气很热，阳光很强。", "我喜欢吃北京烤鸭和饺子。", "这家饭馆的饺子很好吃。",
    "晚饭我们吃米饭和青菜。", "烤鸭是北京有名的菜。",
]
topic = np.array([0, 0, 0, 0, 1, 1, 1, 1])  # weather, food
chars = TextVectorizer(analyzer="char_wb", ngram_range=(1, 2), stop_words=None, stemmer=None)
X = chars.fit_transform(chinese)
bigrams = [n for n in chars.get_feature_names_out() if len(n.strip()) == 2]
print(len(bigrams), "bigrams, e.g.", bigrams[:12])
similarity = cosine_similarity(X)
np.fill_diagonal(similarity, -1)
same = topic[similarity.argmax(axis=1)] == topic
print(f"{same.sum()} of {same.size} sentences have their nearest neighbour on the same topic")
model = make_pipeline(TextVectorizer(analyzer="char_wb", ngram_range=(1, 2), stop_words=None,
                                     stemmer=None), LogisticRegression(C=10))
print("2-fold accuracy:", cross_val_score(model, chinese, topic, cv=2).mean())

mixed = ["我用Python写代码", "I love 编程 and Python"]
print(TextVectorizer(analyzer="char_wb", ngram_range=(2, 2), stop_words=None, stemmer=None)
      .fit(mixed).get_feature_names_out())

# %% [markdown]
# ## Topics: LSA and LDA
#
# `LSATopics` is a truncated SVD of the TF-IDF matrix (latent semantic
# analysis), L2-normalised so that dot products are cosines. `LDATopics`
# fits latent Dirichlet allocation, which models *counts*: feed it
# `TextVectorizer(use_idf=False, norm=None)`. In a pipeline, each topic's
# feature name lists its heaviest terms, and `top_terms` gives more.

# %%
corpus = [
    "cats purr and cats meow at night", "dogs bark and dogs fetch balls",
    "a cat and a dog play together", "kittens and puppies are cute pets",
    "stocks fell as markets slid today", "markets rallied and stocks rose",
    "investors sold shares as prices fell", "the bank raised interest rates on loans",
] * 3
lsa = make_pipeline(TextVectorizer(), LSATopics(n_components=2, random_state=0))
lsa.fit(corpus)
print(lsa.get_feature_names_out())

# %% [markdown]
# LDA needs more text than these one-liners to find its topics. Here is
# its own generative story at work: each document mixes two topics (pets
# and finance, each a distribution over words, plus shared filler words)
# in a proportion drawn per document; LDA recovers the topics and each
# document's proportion.

# %%
rng = np.random.default_rng(0)
topic_words = [["cat", "dog", "kitten", "puppy", "bark", "purr", "leash", "vet"],
               ["stock", "market", "bank", "loan", "price", "share", "bond", "yield"]]
filler = ["today", "people", "really", "new"]
share_of_pets = rng.beta(0.3, 0.3, size=60)
documents = []
for share in share_of_pets:
    n_pets = rng.binomial(40, share)
    words = (list(rng.choice(topic_words[0], n_pets)) + list(rng.choice(topic_words[1],
             40 - n_pets)) + list(rng.choice(filler, 10)))
    documents.append(" ".join(rng.permutation(words)))
lda = make_pipeline(TextCleaner(), TextVectorizer(use_idf=False, norm=None, stemmer=None),
                    LDATopics(n_components=2, random_state=0))
theta = lda.fit_transform(documents)
print(lda.get_feature_names_out())
pets = int(np.argmax([t.count("cat") + t.count("dog") for t in
                      lda[-1].top_terms(lda[1].get_feature_names_out(), n_terms=8)]))
error = np.abs(theta[:, pets] - share_of_pets).mean()
print(f"mean error of the recovered pets share per document: {error:.3f}")

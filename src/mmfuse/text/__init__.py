"""Text features: NLTK normalisation (no downloaded data needed) and TF-IDF."""

from mmfuse.text._normalize import (
    NLTKTokenizer,
    make_stemmer,
    nltk_stopwords_available,
    resolve_stop_words,
)
from mmfuse.text._vectorizer import TextVectorizer

__all__ = [
    "NLTKTokenizer",
    "TextVectorizer",
    "make_stemmer",
    "nltk_stopwords_available",
    "resolve_stop_words",
]

"""Text features: cleaning, NLTK normalisation (no downloaded data needed), TF-IDF over
word or character n-grams, LSA / LDA topics, and reading text files in any encoding."""

from mmfuse.text._clean import TextCleaner, clean_text, strip_markup
from mmfuse.text._load import detect_encoding, load_text_files, read_text_file
from mmfuse.text._normalize import (
    NLTKTokenizer,
    make_stemmer,
    nltk_stopwords_available,
    resolve_stemmer,
    resolve_stop_words,
    unsegmented_share,
    wordnet_available,
)
from mmfuse.text._topics import LDATopics, LSATopics
from mmfuse.text._vectorizer import TextVectorizer

__all__ = [
    "LDATopics",
    "LSATopics",
    "NLTKTokenizer",
    "TextCleaner",
    "TextVectorizer",
    "clean_text",
    "detect_encoding",
    "load_text_files",
    "make_stemmer",
    "nltk_stopwords_available",
    "read_text_file",
    "resolve_stemmer",
    "resolve_stop_words",
    "strip_markup",
    "unsegmented_share",
    "wordnet_available",
]

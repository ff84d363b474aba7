# %% [markdown]
# # Your first multimodal pipeline
#
# This tutorial builds the pipeline behind `make demo`, step by step, on the
# built-in `make_shapes` data: each sample is a scene rendered as an image,
# described by a caption and voiced as two tones. The scene class decides a
# shape and a colour; the image shows the shape (SIFT works on grey levels,
# so colour is mostly lost), the caption nearly always names the colour but
# seldom the shape. Each modality alone is ambiguous; together they are not.

# %%
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline

from mmfuse.datasets import make_shapes
from mmfuse.encoding import BagOfWords
from mmfuse.fusion import EarlyFusion
from mmfuse.image import SIFTExtractor
from mmfuse.text import TextVectorizer

data = make_shapes(n_samples=240, random_state=0)
print(data.frame.head(3)[["text"]])
print("classes:", data.target_names)

# %% [markdown]
# ## Images: dense SIFT, then a bag of visual words
#
# `SIFTExtractor` turns a column of images into a `DescriptorSet`: every
# descriptor of every image in one float32 matrix, plus offsets saying which
# rows belong to which image. `BagOfWords` learns a k-means codebook and
# encodes each image as a normalised histogram of nearest codewords.

# %%
sift = SIFTExtractor(mode="dense", step=6, patch_size=16)
descriptors = sift.fit_transform(data.frame["image"])
print(descriptors)
bow = BagOfWords(n_words=48, random_state=0).fit(descriptors)
image_codes = bow.transform(descriptors)
print("image codes:", image_codes.shape, "rows sum to", image_codes.sum(axis=1)[:3].round(3))

# %% [markdown]
# ## Text: NLTK normalisation and TF-IDF
#
# `TextVectorizer` tokenises, lowercases, removes stopwords and stems with
# NLTK (no corpus download needed), then weighs terms with TF-IDF.

# %%
text = TextVectorizer().fit(data.frame["text"])
print("some terms:", text.get_feature_names_out()[:12].tolist())

# %% [markdown]
# ## Early fusion
#
# `EarlyFusion` runs one pipeline per modality, scales each block to unit
# norm per sample (so the wide text block cannot drown the narrow image
# block) and concatenates them. We compare it with each modality alone.

# %%
def model(*modalities):
    blocks = {
        "image": ("image", Pipeline([("sift", SIFTExtractor(step=6, patch_size=16)),
                                     ("bow", BagOfWords(n_words=48, random_state=0))]), "image"),
        "text": ("text", TextVectorizer(), "text"),
    }
    return Pipeline([("fusion", EarlyFusion([blocks[m] for m in modalities])),
                     ("clf", LogisticRegression(C=10.0, max_iter=2000))])


scores = {}
for name in (("image",), ("text",), ("image", "text")):
    scores[" + ".join(name)] = cross_val_score(model(*name), data.frame, data.target, cv=3)
for name, s in scores.items():
    print(f"{name:>13}: accuracy {s.mean():.3f} ± {s.std():.3f}")
assert scores["image + text"].mean() > max(scores["image"].mean(), scores["text"].mean())

# %% [markdown]
# ## Missing modalities
#
# A `None` cell is an absent modality: its block becomes zeros and the model
# decides from what is left, rather than crashing.

# %%
fitted = model("image", "text").fit(data.frame, data.target)
partial = data.frame.iloc[:20].copy()
partial["text"] = None
acc_missing = np.mean(fitted.predict(partial) == data.target[:20])
print(f"accuracy on 20 training scenes with their captions removed: {acc_missing:.2f}")

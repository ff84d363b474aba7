# %% [markdown]
# # Fusion strategies compared
#
# `mmfuse.fusion` offers five ways to combine modalities, all scikit-learn
# estimators that take the same `(name, transformer_or_estimator, columns)`
# triples:
#
# | strategy | class | what is combined |
# |---|---|---|
# | early | `EarlyFusion` + any classifier | normalised, weighted feature blocks |
# | late | `LateFusionClassifier` | per-modality probabilities (mean, product, vote, stacking...) |
# | kernel | `KernelFusionClassifier` | per-modality kernels, weighted by kernel-target alignment |
# | cascade | `CascadeFusionClassifier` | modalities added cheapest first until confident |
# | tree | `HierarchicalFusionClassifier` | groups of modalities, early or late at each node |
#
# We compare them on the built-in `make_shapes` data at `noise=2`, where
# each modality alone is far from perfect: the image shows the shape, the
# caption mostly names the colour, the audio plays a noisy tone for each.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from mmfuse.audio import MFCCExtractor
from mmfuse.blocks import Blocks
from mmfuse.datasets import make_shapes
from mmfuse.encoding import BagOfWords
from mmfuse.fusion import (
    BlockNormalizer,
    CascadeFusionClassifier,
    EarlyFusion,
    HierarchicalFusionClassifier,
    KernelFusionClassifier,
    LateFusionClassifier,
)
from mmfuse.image import SIFTExtractor
from mmfuse.text import TextVectorizer

data = make_shapes(n_samples=300, noise=2.0, random_state=0)
y = data.target

# %% [markdown]
# ## Features, computed once
#
# In an application the feature pipelines go inside the triples (see the
# last section). Here we compute each modality's features once — sparse
# RootSIFT + a 48-word bag of words for the image, TF-IDF for the caption, an
# MFCC mean/std summary for the audio — so that the comparison runs in
# seconds. (Fitting the codebook and vocabulary on all samples leaks a little
# unsupervised information into the cross-validation; `benchmarks/fusion.py`
# refits them per fold.)

# %%
sift = SIFTExtractor(mode="sparse", rootsift=True).fit_transform(data.frame["image"])
blocks = {
    "image": BagOfWords(n_words=48, random_state=0).fit_transform(sift),
    "text": TextVectorizer(sublinear_tf=True).fit_transform(data.frame["text"]),  # sparse
    "audio": MFCCExtractor(sr=data.audio_sample_rate, output="summary")
    .fit_transform(data.frame["audio"]),
}
blocks["audio"] = (blocks["audio"] - blocks["audio"].mean(0)) / blocks["audio"].std(0)
# The input is the blocks as they are: a mapping of named blocks, each a
# dense array, a sparse matrix (the TF-IDF block stays sparse end to end), a
# DataFrame, a pandas column of vectors or a list of media cells. `Blocks`
# wraps the mapping so that scikit-learn's cross-validation can split it by
# rows; a fusion estimator's `fit` also takes the plain dict.
X = Blocks(blocks)
print(X)

# %% [markdown]
# ## One model per strategy
#
# Every model gets all the blocks and picks its modalities by block name.

# %%
columns = {m: m for m in X.names}
triples = [(m, "passthrough", m) for m in columns]


def lr():
    return LogisticRegression(max_iter=2000)


def leaf():  # per-modality classifier for late fusion
    return Pipeline([("normalize", BlockNormalizer()), ("clf", lr())])


models = {f"only {m}": Pipeline([("fusion", EarlyFusion([t])), ("clf", lr())])
          for m, t in zip(columns, triples, strict=True)}
models.update({
    "early": Pipeline([("fusion", EarlyFusion(triples)), ("clf", lr())]),
    "late mean": LateFusionClassifier([(m, leaf(), columns[m]) for m in columns],
                                      combine="mean"),
    "late product": LateFusionClassifier([(m, leaf(), columns[m]) for m in columns],
                                         combine="product"),
    "late stacking": LateFusionClassifier([(m, leaf(), columns[m]) for m in columns],
                                          combine="stacking", cv=3),
    "kernel": KernelFusionClassifier(triples, kernel={"image": "chi2", "text": "linear",
                                                      "audio": "rbf"}),
    "cascade": CascadeFusionClassifier([triples[1], triples[0], triples[2]],  # text first
                                       estimator=lr(), threshold=0.6),
    "tree": HierarchicalFusionClassifier(
        triples, tree=({"fusion": "early", "children": ["image", "text"]}, "audio"),
        estimator=lr(), cv=3),
})

cv = StratifiedKFold(3, shuffle=True, random_state=0)
scores = {name: cross_val_score(model, X, y, cv=cv) for name, model in models.items()}
table = pd.DataFrame({"accuracy": [s.mean() for s in scores.values()],
                      "std": [s.std() for s in scores.values()]}, index=list(scores))
print(table.round(3).to_string())

# %% [markdown]
# Every fusion strategy beats every single modality here: each modality
# sees a noisy part of the scene, and combining them recovers more of it.

# %%
best_single = table.loc[[n for n in table.index if n.startswith("only")], "accuracy"].max()
best_fusion = table.drop(index=[n for n in table.index if n.startswith("only")])["accuracy"]
print(f"best single modality {best_single:.3f}, best fusion {best_fusion.max():.3f} "
      f"({best_fusion.idxmax()})")
assert best_fusion.max() > best_single

fig, ax = plt.subplots(figsize=(7, 3.5))
colours = ["#999999" if n.startswith("only") else "#3b75af" for n in table.index]
ax.barh(table.index, table["accuracy"], xerr=table["std"], color=colours)
ax.axvline(best_single, color="k", ls="--", lw=1)
ax.text(best_single + 0.01, len(table) - 0.6, "best single modality", fontsize=8)
ax.set_xlabel("3-fold CV accuracy (make_shapes, noise=2)")
ax.set_xlim(0, 0.85)
ax.invert_yaxis()
fig.tight_layout()
fig.savefig(os.path.join(os.environ.get("MMFUSE_DOCS_OUT", "."), "fusion_strategies.png"),
            dpi=100)

# %% [markdown]
# ![accuracy of each strategy](fusion_strategies.png)
#
# The mean and the product of the modalities' probabilities each win
# somewhere: the product is the Bayes rule when the modalities are
# independent given the class (here each sees its own noisy part of the
# scene), but one overconfident modality can veto the others, which the
# mean forgives. `LateFusionClassifier()` therefore defaults to
# `combine="auto"`: it refits each modality's classifier without the first
# fold of `cv`, and takes the product only when it makes significantly fewer
# errors than the mean on that fold (McNemar's statistic, two standard
# deviations), else the mean. `combine_` holds the choice, `auto_counts_`
# the held-out samples that only one rule got right. With 60 held-out
# scenes a few samples cannot make the difference significant, so it keeps
# the mean here; on audio-visual digits (2,700 pairs) it picks the product,
# 0.930 against 0.883 for the mean (`benchmarks/results/defaults.md`).

# %%
auto = LateFusionClassifier([(m, leaf(), columns[m]) for m in columns]).fit(X, y)
print("combine='auto' picked", repr(auto.combine_), auto.auto_counts_)

# %% [markdown]
# ## A missing modality at predict time
#
# A sample lacks a modality when its row of a dense block is all NaN (or
# its cell is `None` for media cells; a sparse block has no missing rows, an
# all-zero row is an empty document). Late fusion then decides from the
# modalities the sample has; nothing crashes. We drop the caption for half
# of the test samples, passing that block dense with NaN rows.

# %%
rng = np.random.default_rng(0)
train, test = next(cv.split(X, y))
half = rng.random(len(test)) < 0.5
text_test = X.take(test)["text"].toarray()
text_test[half] = np.nan
X_test = Blocks({**dict(X.take(test).items()), "text": text_test})
for name in ("late mean", "late stacking", "only image", "only audio"):
    model = models[name].fit(X.take(train), y[train])
    full = model.score(X.take(test), y[test])
    if name.startswith("only"):
        print(f"{name:>13}: {full:.3f}")
        continue
    print(f"{name:>13}: all modalities {full:.3f}, caption missing for half: "
          f"{model.score(X_test, y[test]):.3f}")

# %% [markdown]
# ## What the cascade saved
#
# The cascade reads the caption first (cheapest), then the image, then the
# audio, and stops as soon as it is confident. `cascade_report` says how
# many samples needed each stage and how much feature computation that
# avoided, given a cost per modality.

# %%
cascade = CascadeFusionClassifier([triples[1], triples[0], triples[2]], estimator=lr(),
                                  threshold=0.6,
                                  costs={"text": 0.1, "image": 2.0, "audio": 10.0})
cascade.fit(X.take(train), y[train])
report = cascade.cascade_report(X.take(test), y[test])
print(report.table.round(3).to_string())
print(f"compute saved: {report.saved_compute:.0%}")

# %% [markdown]
# ## Several targets from one fused representation
#
# Every fusion classifier accepts a 2-D `y` (scikit-learn's multi-output
# convention): here the scene and the number of objects.

# %%
Y = np.column_stack([y, data.latent["count"].to_numpy()])
multi = LateFusionClassifier([(m, leaf(), columns[m]) for m in columns], combine="product")
multi.fit(X.take(train), Y[train])
pred = multi.predict(X.take(test))
print("scene accuracy", np.mean(pred[:, 0] == Y[test, 0]).round(3),
      "| count accuracy", np.mean(pred[:, 1] == Y[test, 1]).round(3))

# %% [markdown]
# ## Media columns directly
#
# The triples take any transformer, so the feature pipelines can live inside
# the fusion model and be cross-validated (and grid-searched: `text__clf__C`)
# with it. A `None` caption is a missing modality.

# %%
media = LateFusionClassifier([
    ("text", Pipeline([("tfidf", TextVectorizer()), ("clf", lr())]), "text"),
    ("audio", Pipeline([("mfcc", MFCCExtractor(sr=data.audio_sample_rate, output="summary")),
                        ("normalize", BlockNormalizer("standard")), ("clf", lr())]), "audio"),
], combine="product")
frame = data.frame.copy()
frame.loc[:9, "text"] = None
media.fit(frame.iloc[train], y[train])
print("media late fusion accuracy:", round(media.score(frame.iloc[test], y[test]), 3))

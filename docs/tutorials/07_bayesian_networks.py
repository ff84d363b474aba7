# %% [markdown]
# # From P(X) P(Y | X) to a Bayesian network
#
# Two modalities `X` (what the image shows) and `Y` (what the caption says)
# are dependent: their joint distribution factorises as
#
# $$P(X, Y) = P(X)\,P(Y \mid X).$$
#
# A **Bayesian network** does this for many variables at once: a directed
# acyclic graph says which variables each one depends on directly (its
# parents), and the joint distribution is the product of one conditional
# probability table (CPD) per variable,
#
# $$P(V_1, \dots, V_n) = \prod_i P(V_i \mid \mathrm{pa}(V_i)).$$
#
# **Inference** answers any question from these tables. The probability of
# the class `C` given what we observed, `e`, sums the joint over everything
# we did not observe, `h`: $P(C \mid e) \propto \sum_h \prod_i P(V_i \mid
# \mathrm{pa}(V_i))$. *Variable elimination* pushes each sum inside the
# product as far as it goes, so the cost is set by the graph, not by the
# number of configurations. A **missing modality** is simply one more
# unobserved variable that gets summed out — no imputation needed.
#
# **Learning** has two parts. Parameters: each table is estimated from
# counts (maximum likelihood, or with a Dirichlet/BDeu prior that adds
# pseudo-counts). Structure: a score such as
# $\mathrm{BIC} = \log L - \tfrac{\log n}{2}\,\#\mathrm{parameters}$ trades
# fit against size, and hill climbing adds, removes or reverses one edge at
# a time while the score improves.
#
# We use `make_shapes`, whose data come from a known network: the scene
# (the class) generates a shape and a colour, the shape a size, the size a
# count of objects. So we can check what we learn against the truth.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mmfuse.datasets import make_shapes, sample_shapes_latent
from mmfuse.probabilistic import MultimodalBayesNet

start = time.perf_counter()
truth = make_shapes(1, random_state=0).truth
print("true edges:", truth["edges"])
latent = sample_shapes_latent(2000, random_state=0)
X, y = latent.drop(columns="scene"), latent["scene"]
print(latent.head())

# %% [markdown]
# ## Learning the structure
#
# `structure="learn"` runs pgmpy's hill climbing on the BIC score. The class
# is kept a root (`class_root=True`, i.e. no edge may point into `scene`):
# the reading "the scene comes first and generates what we see". We compare
# the learned skeleton (edges without direction) with the truth by the
# structural Hamming distance: edges in one and not in the other. With 2,000
# samples it is 0 for every score (the tests check this for BIC, BDeu and K2
# on two independent samples); with a hundred or so it depends on the sample.

# %%
def skeleton_distance(edges_a, edges_b):
    return len({frozenset(e) for e in edges_a} ^ {frozenset(e) for e in edges_b})


for n in (100, 2000):
    for score in ("bic", "bdeu", "k2"):
        sub = latent.iloc[:n]
        learned = MultimodalBayesNet("learn", class_name="scene", scoring_method=score)
        learned.fit(sub.drop(columns="scene"), sub["scene"])
        print(f"n={n:5d} {score:>4}: SHD = {skeleton_distance(learned.edges_, truth['edges'])}"
              f"  edges {learned.edges_}")

bn = MultimodalBayesNet("learn", class_name="scene").fit(X, y)
ax = bn.plot(descriptions=True)
ax.set_title("learned from 2,000 samples")
plt.savefig(os.path.join(os.environ.get("MMFUSE_DOCS_OUT", "."), "07_learned_network.png"),
            dpi=80, bbox_inches="tight")

# %% [markdown]
# The direction between `shape`, `size` and `count` is not identifiable from
# data alone — `shape -> size -> count` and `count -> size -> shape` encode
# the same independences — so we compare skeletons.
#
# ## Reading the tables
#
# `explain()` returns every CPD as a DataFrame, in the same layout as
# `truth["cpds"]`: one row per state of the parents, one column per state.

# %%
print(bn.explain("shape").round(2))
print(truth["cpds"]["shape"].round(2))
print(bn.explain("count").round(2))

# %% [markdown]
# As the sample grows, the estimates approach the true tables. We measure it
# by the Kullback-Leibler divergence between the true joint distribution and
# the learned one (with the true structure), which shrinks roughly like
# (number of free parameters) / (2 n).

# %%
states = truth["variables"]


def joint(cpds):
    """P(every configuration), enumerated from the CPD tables."""
    names = list(states)
    out = []
    for config in pd.MultiIndex.from_product([states[v] for v in names]):
        assignment = dict(zip(names, config, strict=True))
        p = 1.0
        for var, table in cpds.items():
            parents = [p for p in table.index.names if p is not None]
            row = table.loc[assignment[parents[0]]] if parents else table.iloc[0]
            p *= row[assignment[var]]
        out.append(p)
    return np.array(out)


true_joint = joint(truth["cpds"])
for n in (100, 1000, 10000):
    sample = sample_shapes_latent(n, random_state=1)
    fitted = MultimodalBayesNet(truth["edges"], class_name="scene").fit(
        sample.drop(columns="scene"), sample["scene"])
    kl = np.sum(true_joint * np.log(true_joint / joint(fitted.explain())))
    print(f"n={n:6d}: KL(truth || learned) = {kl:.4f}   (36 / 2n = {36 / (2 * n):.4f})")

# %% [markdown]
# ## Questions a discriminative model cannot answer
#
# "What colour does the caption probably name, given that the image shows a
# triangle?" is $P(\text{colour} \mid \text{shape} = \text{triangle})$: the
# scene is summed out. Triangles belong to the blue and the red scenes, so
# blue and red share most of the mass.

# %%
print(bn.predict_modality("colour", given={"shape": "triangle"}).round(3))
print(bn.predict_modality("size", given={"count": 3}).round(3))

# %% [markdown]
# ## Classifying with a missing modality
#
# A missing cell (None) is an unobserved variable. The network sums it out,
# so the posterior equals the one a model trained without that modality
# would give, without training one.

# %%
test = sample_shapes_latent(600, random_state=2)
X_test, y_test = test.drop(columns="scene"), test["scene"]
for missing in (None, "colour", "shape"):
    X_m = X_test if missing is None else X_test.assign(**{missing: None})
    print(f"{'all variables' if missing is None else 'without ' + missing:>16}: "
          f"accuracy {bn.score(X_m, y_test):.3f}")

# %% [markdown]
# ## The same on media
#
# Real modalities are not discrete. `ModalityDiscretizer` turns each
# modality's feature vector into one discrete variable, fitted inside the
# model. Here the image becomes sparse RootSIFT + a bag of visual words and
# the caption TF-IDF terms; `method="supervised"` makes each modality's state
# the scene that a logistic regression predicts from that modality alone
# (out-of-fold while fitting, so the tables see honest errors). Each state is
# described by the class and the features with the largest weights — for
# the caption, its top terms. (K-means states, `method="kmeans"`, are the
# unsupervised alternative; on these captions they follow the filler
# phrases, which vary most but say nothing about the scene.)

# %%
from sklearn.pipeline import Pipeline

from mmfuse.encoding import BagOfWords
from mmfuse.image import SIFTExtractor
from mmfuse.probabilistic import ModalityDiscretizer
from mmfuse.text import TextVectorizer

data = make_shapes(360, random_state=0)
scene = np.asarray(data.target_names)[data.target]
frame = data.frame[["image", "text"]]
train, test = np.arange(240), np.arange(240, 360)
image = Pipeline([("sift", SIFTExtractor(mode="sparse", rootsift=True)),
                  ("bow", BagOfWords(n_words=48, codebook="kmeans", max_descriptors=5000,
                                     random_state=0))])
discretizer = ModalityDiscretizer([("image", image, "image"), ("text", TextVectorizer(), "text")],
                                  method="supervised", cv=3, random_state=0)
media_bn = MultimodalBayesNet(discretizer=discretizer, class_name="scene")
media_bn.fit(frame.iloc[train], scene[train])
print(media_bn.discretizer_.describe("text"))

# %% [markdown]
# The CPD of a supervised state given the scene is that modality's
# confusion matrix: the caption tells the colour (red circles and red
# triangles are confused), the image the shape.

# %%
print(media_bn.explain("text").round(2))

# %% [markdown]
# "What does the text probably say, given this image?" The image of test
# sample 0 is discretised and observed; the caption's state is predicted.

# %%
i = test[0]
print("truth:", data.latent.iloc[i][["scene", "shape", "colour"]].tolist(),
      "| caption:", data.frame["text"].iloc[i])
print(media_bn.predict_modality("text", given={"image": frame["image"].iloc[i]}).round(3))

# %%
for missing in (None, "text", "image"):
    f = frame.iloc[test] if missing is None else frame.iloc[test].assign(**{missing: None})
    print(f"{'image + text' if missing is None else 'without ' + missing:>13}: "
          f"accuracy {media_bn.score(f, scene[test]):.3f}")
print(f"tutorial ran in {time.perf_counter() - start:.0f} s")

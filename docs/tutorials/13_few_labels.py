# %% [markdown]
# # Learning with few labels across modalities
#
# Multimodal data is cheap; labels are not. Two views of the same sample
# (an article's image and its text, a spoken digit and a written one) help
# exactly where labels are scarce:
#
# * **clustering** both views together finds groups that neither view shows
#   alone (`mmfuse.cluster`);
# * **label spreading** passes the few known labels along a graph of
#   samples that are similar in the views together;
# * **co-training** lets each view's classifier label the samples it is sure
#   of for the other view (Blum & Mitchell, 1998): it pays when each view is
#   good enough alone and the views err independently;
# * **a CCA embedding** learnt from every pair of views, labelled or not,
#   keeps what the views share and drops what each has alone; a classifier
#   on these few canonical variates needs few labels (Kakade & Foster, 2007).
#
# Unlabelled samples are marked `-1`, as in `sklearn.semi_supervised`.
#
# We use the Wikipedia categories set (2,866 articles, 10 categories; the
# authors' image bag of words and text topics, see `datasets/`) when it is
# under `$MMFUSE_DATA`, and otherwise a generated two-view set.

# %%
import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from mmfuse.cluster import MultiviewKMeans, MultiviewSpectralClustering, SelfOrganizingMap
from mmfuse.crossmodal import CCA
from mmfuse.datasets import find_dataset, load_wikipedia
from mmfuse.semi_supervised import CCAClassifier, CoTrainingClassifier, MultiviewLabelSpreading

root = find_dataset("wikipedia_xmodal")
if root is not None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # malformed XML files, read leniently
        data = load_wikipedia(root)
    views = {"image": data.image_features, "text": data.text_features}
    y, split = np.asarray(data.target), data.split
    print("Wikipedia categories:", {k: v.shape for k, v in views.items()})
else:
    # four classes: the image tells {0, 1} from {2, 3}, the text {0, 2} from {1, 3}
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 1200)
    views = {"image": np.c_[3.0 * (y >= 2), 3.0 * (y >= 2)] + rng.normal(size=(1200, 2)),
             "text": np.c_[3.0 * (y % 2), 3.0 * (y % 2)] + rng.normal(size=(1200, 2))}
    split = np.where(np.arange(1200) < 900, "train", "test")
    print("Wikipedia not found: a generated two-view set")

train, test = split == "train", split == "test"
scalers = {name: StandardScaler().fit(block[train]) for name, block in views.items()}
X = {name: scalers[name].transform(block[train]) for name, block in views.items()}
X_test = {name: scalers[name].transform(block[test]) for name, block in views.items()}
y_train, y_test = y[train], y[test]
n_classes = len(np.unique(y))

# %% [markdown]
# ## Clustering: one view, or both
#
# Adjusted Rand index against the classes (0: chance, 1: the classes
# exactly). `MultiviewKMeans` scales each view to unit total variance
# before k-means, so the view with more columns does not decide alone;
# `MultiviewSpectralClustering` cuts a graph fused from one RBF kernel per
# view.

# %%
for name, block in X.items():
    labels = KMeans(n_classes, n_init="auto", random_state=0).fit_predict(block)
    print(f"k-means on {name:5s}: ARI {adjusted_rand_score(y_train, labels):.3f}")
for model in (MultiviewKMeans(n_classes, random_state=0),
              MultiviewSpectralClustering(n_classes, combine="mean", random_state=0)):
    labels = model.fit_predict(X)
    print(f"{type(model).__name__}: ARI {adjusted_rand_score(y_train, labels):.3f}")

# %% [markdown]
# A self-organising map lays the samples on a grid; the U-matrix (each
# unit's distance to its neighbours) draws the borders between groups as
# light ridges, and the samples of each class should gather in its valleys.

# %%
som = SelfOrganizingMap((8, 8), random_state=0).fit(X)
print(f"SOM: quantisation error {som.quantization_error_:.3f}, "
      f"topographic error {som.topographic_error_:.3f}")
ax = som.plot_u_matrix(X, y_train)

# %% [markdown]
# ## Five per cent of the labels
#
# Keep 5% of the training labels (stratified), mark the rest `-1`, and
# compare on the test split: the supervised model on the kept labels
# alone (logistic regression on both views side by side), label spreading
# and co-training, which also learn from the unlabelled samples.

# %%
rng = np.random.default_rng(0)
partial = np.full(y_train.shape, -1)
for label in np.unique(y_train):
    rows = np.flatnonzero(y_train == label)
    kept = rng.choice(rows, max(1, round(0.05 * rows.size)), replace=False)
    partial[kept] = label
labelled = partial != -1
print(f"{labelled.sum()} labels kept out of {labelled.size}")

side, side_test = np.hstack(list(X.values())), np.hstack(list(X_test.values()))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    supervised = LogisticRegression(max_iter=2000).fit(side[labelled], partial[labelled])
    spreading = MultiviewLabelSpreading().fit(X, partial)
    cotraining = CoTrainingClassifier(random_state=0).fit(X, partial)
print(f"supervised, labels only : {supervised.score(side_test, y_test):.3f}")
print(f"MultiviewLabelSpreading : {spreading.score(X_test, y_test):.3f}")
print(f"CoTrainingClassifier    : {cotraining.score(X_test, y_test):.3f} "
      f"({(cotraining.labeled_iter_ > 0).sum()} samples labelled by the views)")

# %% [markdown]
# ## Learning what the views share, then the labels
#
# `CCAClassifier` fits canonical correlation analysis on all training pairs
# (no labels needed: CCA only asks which directions of the image and the
# text vary together) and a logistic regression on the labelled samples'
# canonical variates. Its default embedding is `KernelCCA` (RBF kernels,
# for relations that are not linear); `CCA()` is the linear one.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for name, model in (("CCAClassifier (KernelCCA)", CCAClassifier(random_state=0)),
                        ("CCAClassifier(CCA())", CCAClassifier(CCA()))):
        print(f"{name:26s}: {model.fit(X, partial).score(X_test, y_test):.3f}")

# %% [markdown]
# On Wikipedia with 5% of the labels, label spreading and the CCA
# classifiers beat the supervised model (`benchmarks/results/few_labels.md`:
# 0.51 for supervised fusion, about 0.60 for label spreading and the linear
# CCA classifier), while co-training does worse: the image bag of words is
# too weak a view to label samples for the text view, so its confident
# mistakes become training data. On audio-visual digits, where sound and
# picture both carry the digit, the kernel CCA classifier gains most (about
# 0.86 against 0.71). Before trusting co-training, check that each view alone
# does well; the benchmark shows accuracy against the share of labels (1 to
# 100%) on both sets.

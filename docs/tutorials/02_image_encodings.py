# %% [markdown]
# # Image encodings: bag-of-words, VLAD, Fisher vectors and spatial pyramids
#
# A local-feature extractor such as dense SIFT turns each image into a
# *set* of descriptors, of varying size. A linear classifier wants one
# fixed-length vector per image. The encoders in `mmfuse.encoding` do that
# conversion; they differ in how much of the descriptor distribution they
# keep:
#
# | encoder | keeps, per codeword | length | usual K |
# |---|---|---|---|
# | `BagOfWords` | how many descriptors fall there (0th order) | K | 256-4,000 |
# | `VLAD` | sum of their offsets from the codeword (1st order) | K x D | 16-256 |
# | `FisherVector` | offsets and variances under a Gaussian (1st+2nd order) | 2 x K x D | 16-256 |
#
# and `SpatialPyramid` pools any of them over a grid of image regions, so
# the code also says *where* things are.
#
# We use small generated scenes: a disk above a cross, a cross above a disk,
# two disks, or two crosses. A plain bag of words sees "one disk, one
# cross" in both of the first two classes and can hardly tell them apart;
# a spatial pyramid can.

# %%
import time

import cv2
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from mmfuse.encoding import VLAD, BagOfWords, DescriptorPCA, FisherVector, SpatialPyramid
from mmfuse.image import SIFTExtractor

LAYOUTS = {0: ("disk", "cross"), 1: ("cross", "disk"), 2: ("disk", "disk"),
           3: ("cross", "cross")}


def draw(shape, img, cx, cy, r):
    if shape == "disk":
        cv2.circle(img, (cx, cy), r, 255, -1)
    else:
        cv2.line(img, (cx - r, cy), (cx + r, cy), 255, 2)
        cv2.line(img, (cx, cy - r), (cx, cy + r), 255, 2)


def make_scenes(n, seed=0):
    rng = np.random.default_rng(seed)
    images, labels = [], rng.integers(0, 4, size=n)
    for label in labels:
        img = rng.normal(60, 8, size=(48, 48)).clip(0, 255).astype(np.uint8)
        top, bottom = LAYOUTS[int(label)]
        draw(top, img, int(rng.integers(16, 32)), int(rng.integers(11, 14)),
             int(rng.integers(7, 10)))
        draw(bottom, img, int(rng.integers(16, 32)), int(rng.integers(34, 37)),
             int(rng.integers(7, 10)))
        images.append(img)
    return images, labels


images, labels = make_scenes(240)
train_idx, test_idx = train_test_split(np.arange(240), test_size=0.5, stratify=labels,
                                       random_state=0)

# %% [markdown]
# ## Descriptors: dense multi-scale RootSIFT
#
# `SIFTExtractor(mode="dense")` describes patches on a regular grid, like
# VLFeat's PHOW; a tuple of `patch_size` values gives several scales, which
# makes the description robust to object size. `rootsift=True` applies
# RootSIFT (L1-normalise, then square root): comparing RootSIFT vectors with
# the Euclidean distance is comparing SIFT with the Hellinger kernel, which
# is what k-means and VLAD should use for histograms. The descriptor set
# keeps each descriptor's position, which the spatial pyramid needs.

# %%
sift = SIFTExtractor(mode="dense", step=6, patch_size=(12, 16), rootsift=True)
descriptors = sift.fit_transform(images)
train, test = descriptors[train_idx], descriptors[test_idx]
print(descriptors, "positions:", descriptors.positions.shape)

# %% [markdown]
# For colour images, `color="opponent"` (OpponentSIFT) or `color="hsv"`
# describes three channels at the same keypoints and concatenates them (384
# values). The two opponent colour channels ignore a uniform change of light
# intensity; RootSIFT is applied to each channel separately. Our scenes are
# gray, so here the colour blocks would be zeros.

# %%
red_disk = np.zeros((48, 48, 3), np.uint8)
cv2.circle(red_disk, (24, 24), 10, (0, 0, 255), -1)  # OpenCV images are BGR
print(SIFTExtractor(step=12, patch_size=16, color="opponent").fit_transform([red_disk]))

# %% [markdown]
# ## The encoders
#
# Every encoder learns its codebook from at most `max_descriptors` sampled
# descriptors (mini-batch k-means above 20,000), with a fixed
# `random_state`. All of them share assignment to the nearest codeword,
# which runs as one GEMM per cache-sized chunk on the backend kernels.
#
# **Bag of words.** `assignment="hard"` counts nearest codewords;
# `assignment="soft"` spreads each descriptor over its `n_nearest`
# codewords with Gaussian weights (kernel codebook), which helps when
# descriptors fall between codewords. `tfidf=True` down-weights words that
# occur in most training images. Normalisations: `"l1"` (word frequencies),
# `"l2"`, or `"power"` (square root then L2: the Hellinger map, usually the
# best one for a linear classifier on histograms).
#
# **VLAD** sums residuals `x - c` per codeword. Its normalisations follow
# VLFeat, in order: `mass_norm` (divide by the number of descriptors of the
# codeword), `signed_sqrt` (damps "bursty" components that repeated
# structures inflate), `intra_norm` (L2 per codeword, so no single codeword
# dominates), then a global L2.
#
# **Fisher vectors** fit a diagonal Gaussian mixture and keep the gradient
# of the log-likelihood with respect to the means and variances. A diagonal
# mixture assumes decorrelated dimensions, so decorrelate first with
# `DescriptorPCA(whiten=True)` (which also shrinks the code). The *improved*
# Fisher vector (default) applies the signed square root and L2.

# %%
K = 16  # the same codebook budget for everyone
candidates = {
    "BoW hard": BagOfWords(K, random_state=0),
    "BoW tf-idf + power": BagOfWords(K, tfidf=True, norm="power", random_state=0),
    "VLAD": make_pipeline(DescriptorPCA(24, whiten=False, random_state=0),
                          VLAD(K, random_state=0)),
    "Fisher vector": make_pipeline(DescriptorPCA(24, random_state=0),
                                   FisherVector(K, random_state=0)),
    "BoW hard + pyramid 1,2": SpatialPyramid(BagOfWords(K, random_state=0), levels=(1, 2)),
    "VLAD + pyramid 1,2": make_pipeline(DescriptorPCA(24, whiten=False, random_state=0),
                                        SpatialPyramid(VLAD(K, random_state=0), levels=(1, 2))),
}

results = {}
for name, encoder in candidates.items():
    X_train = encoder.fit(train).transform(train)
    start = time.perf_counter()
    X_test = encoder.transform(test)
    ms = (time.perf_counter() - start) / len(test_idx) * 1e3
    clf = LinearSVC(C=10.0).fit(X_train, labels[train_idx])
    results[name] = np.mean(clf.predict(X_test) == labels[test_idx])
    print(f"{name:>24}: {X_test.shape[1]:5d} dims, accuracy {results[name]:.3f}, "
          f"{ms:.2f} ms/image to encode")

# %% [markdown]
# The pyramid's 2 x 2 cells tell top from bottom, which the hard bag of
# words needs badly. Tf-idf (the background words occur everywhere) and the
# power normalisation already help it. VLAD and Fisher
# vectors describe *how* each descriptor differs from its codeword, which
# with only 16 codewords separates a disk's edge from a cross's arm far
# better than a count does.

# %%
assert results["BoW hard + pyramid 1,2"] > results["BoW hard"] + 0.1
assert results["VLAD"] > results["BoW hard"] and results["Fisher vector"] > results["BoW hard"]

# %% [markdown]
# ## Which one to use
#
# - **Bag of words** is the cheapest and the shortest code; it needs large
#   codebooks (thousands of words) to do well and is the natural input to
#   non-linear kernels (chi-squared, intersection). Use soft assignment and
#   the power normalisation with a linear classifier.
# - **VLAD** reaches better accuracy with tiny codebooks (16-256 words): the
#   residuals say where in the cell the descriptors lie. Cheap to compute
#   (hard assignment), long codes (K x D), linear classifiers work well.
# - **Fisher vectors** add second-order statistics and soft posteriors; they
#   were the best classical encoding (Chatfield et al. 2011) for a given
#   codebook, at the price of the longest codes (2 x K x D) and a Gaussian
#   mixture to fit. Whiten the descriptors with PCA first.
# - **Spatial pyramids** multiply the code length by 1 + 4 (+ 16) and help
#   whenever layout matters (scenes, digits, object categories in
#   roughly-centred photos); they matter little for texture-like content.
#
# ## Normalisations at a glance
#
# The power (signed square root) step and the L2 step matter as much as the
# encoder: without them a few frequent, "bursty" components dominate the
# dot products a linear classifier computes. Here is the same VLAD with and
# without them:

# %%
pca = DescriptorPCA(24, whiten=False, random_state=0).fit(train)
for flags in ({}, {"signed_sqrt": False, "intra_norm": False}):
    vlad = VLAD(K, random_state=0, **flags).fit(pca.transform(train))
    codes = vlad.transform(pca.transform(train))
    share = np.sort(np.abs(codes), axis=1)[:, -K:].sum(axis=1) / np.abs(codes).sum(axis=1)
    print(f"VLAD {flags or 'default (signed sqrt + intra + L2)'}: the {K} largest of "
          f"{codes.shape[1]} values hold {share.mean():.0%} of the mass")

# %% [markdown]
# # HMMs across modalities
#
# A **hidden Markov model** explains a sequence of frames $x_1 \dots x_T$ by a
# hidden state sequence $z_1 \dots z_T$ that moves by a Markov chain and
# emits one frame per step:
#
# $$P(X) = \sum_{z} P(z_1) \prod_{t>1} P(z_t \mid z_{t-1}) \prod_t P(x_t \mid z_t).$$
#
# The sum over all $K^T$ state paths is computed in $O(T K^2)$ by the
# **forward algorithm**, which carries $P(x_1 \dots x_t, z_t = k)$ along the
# sequence. **Baum-Welch** is EM for HMMs: the E-step computes, with the
# forward and backward passes, the posterior $\gamma_t(k) = P(z_t = k \mid
# X)$ of every state at every frame (and of every transition); the M-step
# re-estimates start, transition and emission parameters as
# posterior-weighted counts and averages. Each round cannot lower the
# likelihood; it converges to a local optimum (hence several random starts).
#
# Two modalities give two streams. This tutorial shows two ways to model
# them, on synthetic sequences whose parameters we know:
#
# 1. **Cross-modal HMM**, $P(X, Y) = P(X)\,P(Y \mid X)$: one hidden chain,
#    defined by stream X (say, lip shapes), whose states also emit stream Y
#    (the sound). It predicts Y from X and scores how well a pair belongs
#    together.
# 2. **Multi-stream HMM classifier**: per class, one HMM per stream; the
#    class score adds the streams' log-likelihoods with stream weights,
#    $\log p(c) + \sum_s w_s \log p(x_s \mid c)$ — the classic model of
#    audio-visual speech recognition. A missing stream simply drops out.

# %%
import time

import numpy as np
import pandas as pd
from hmmlearn.hmm import GaussianHMM
from scipy.optimize import linear_sum_assignment

from mmfuse.probabilistic import CrossModalHMM, HMMClassifier, MultiStreamHMMClassifier

start = time.perf_counter()

# %% [markdown]
# ## 1. A cross-modal HMM recovers planted parameters
#
# Three hidden states (think "closed", "half open", "open" mouth). Stream X
# is 2-D (a lip-shape feature), Gaussian per state; stream Y is 1-D (an
# audio energy), Gaussian per state with its own mean and spread.

# %%
true_trans = np.array([[0.85, 0.10, 0.05], [0.05, 0.85, 0.10], [0.10, 0.05, 0.85]])
true_x_means = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
true_y_means = np.array([-2.0, 1.0, 3.0])
true_y_std = np.array([0.5, 0.8, 0.4])

video = GaussianHMM(3, covariance_type="diag")
video.startprob_ = np.array([0.6, 0.3, 0.1])
video.transmat_ = true_trans
video.means_, video.covars_ = true_x_means, np.ones((3, 2))

rng = np.random.default_rng(0)
X, Y = [], []
for i in range(25):
    x, z = video.sample(100, random_state=i)
    X.append(x)
    Y.append((true_y_means[z] + true_y_std[z] * rng.standard_normal(len(z)))[:, None])

model = CrossModalHMM(n_states=3, random_state=0).fit(X, Y)

# %% [markdown]
# Fitting follows the factorisation: Baum-Welch on X alone gives $P(X)$;
# then each state's emission of Y is estimated from the posteriors
# $\gamma_t(k)$ of X. Where states overlap in X these soft weights blur
# Y's emissions together, so a few EM rounds refine Y's emissions alone
# with the posteriors given both streams, $P(z_t \mid X, Y)$, keeping
# $P(X)$ fixed: that maximises $\log P(Y \mid X)$. Hidden states have no
# names, so we match learned states to planted ones by their X means.

# %%
cost = ((model.means_[:, None] - true_x_means[None]) ** 2).sum(axis=2)
rows, cols = linear_sum_assignment(cost)
order = rows[np.argsort(cols)]  # learned state playing planted state k
print("transition matrix, learned vs true:")
print(np.round(model.transmat_[np.ix_(order, order)], 2))
print(true_trans)
print("Y means:", np.round(model.y_means_[order, 0], 2), "true", true_y_means)
print("Y std:  ", np.round(np.sqrt(model.y_covars_[order, 0]), 2), "true", true_y_std)
blurred = CrossModalHMM(n_states=3, y_n_iter=0, random_state=0).fit(X, Y)
print("Y means from X's posteriors only (no EM on Y):",
      np.round(np.sort(blurred.y_means_[:, 0]), 2))

# %% [markdown]
# ### Converting X into Y, and scoring pairs
#
# $P(y_t \mid X) = \sum_k \gamma_t(k)\,P(y_t \mid z_t = k)$: `predict` gives
# its mean. The pair score $\log P(Y \mid X) = \log P(X, Y) - \log P(X)$
# (forward algorithm on the joint emissions) tells whether two streams
# belong together — e.g. whether audio and video are in sync.

# %%
x_new, z_new = video.sample(12, random_state=99)
y_pred = model.predict([x_new])[0][:, 0]
print("true Y means on the path:", np.round(true_y_means[z_new], 1))
print("Y predicted from X      :", np.round(y_pred, 1))

X_test, Y_test = X[:10], Y[:10]
in_sync = model.conditional_log_likelihood(X_test, Y_test)
shifted = model.conditional_log_likelihood(X_test, [np.roll(y, 20, axis=0) for y in Y_test])
print(f"log P(Y | X): in sync {in_sync.mean():.1f}, Y shifted by 20 frames {shifted.mean():.1f}")

# %% [markdown]
# ## 2. Multi-stream HMM classification
#
# Two "words" that use the same sounds in opposite orders. The audio
# stream is fast (3 frames per video frame), the video stream slow; both
# are noisy enough that neither alone is reliable. We compare a single
# stream, early fusion (frames aligned by repeating video frames,
# concatenated, one HMM per class) and late fusion (one HMM per stream and
# class, log-likelihoods added with weights), with weights fixed at 1 or
# tuned by cross-validation on a grid summing to 1.

# %%
def make_words(n_per_class, seed, audio_noise=6.0, video_noise=2.0):
    rng = np.random.default_rng(seed)
    audio, lips, labels = [], [], []
    for label, order_ in (("yes", (0.0, 2.0)), ("no", (2.0, 0.0))):
        for _ in range(n_per_class):
            n = int(rng.integers(8, 14)) * 3
            levels = np.r_[np.full(n // 2, order_[0]), np.full(n - n // 2, order_[1])]
            audio.append(np.column_stack([levels, -levels])
                         + rng.normal(0, audio_noise, (n, 2)))
            lips.append(levels[::3, None] + rng.normal(0, video_noise, (n // 3, 1)))
            labels.append(label)
    return pd.DataFrame({"audio": audio, "video": lips}), np.array(labels)


train_X, train_y = make_words(20, seed=0)
test_X, test_y = make_words(40, seed=1)
hmm = HMMClassifier(n_states=2, topology="left-right", n_iter=15, random_state=0)

models = {
    "audio only": MultiStreamHMMClassifier(["audio"], estimator=hmm),
    "video only": MultiStreamHMMClassifier(["video"], estimator=hmm),
    "early fusion": MultiStreamHMMClassifier(fusion="early", estimator=hmm),
    "late, weights 1": MultiStreamHMMClassifier(estimator=hmm),
    "late, CV weights": MultiStreamHMMClassifier(estimator=hmm, stream_weights="cv"),
}
for name, clf in models.items():
    clf.fit(train_X, train_y)
    print(f"{name:>17}: accuracy {clf.score(test_X, test_y):.3f}")
print("CV stream weights (audio, video):", models["late, CV weights"].stream_weights_)

# %% [markdown]
# With the audio missing (a None cell), the late models fall back on the
# video stream — its term simply drops out of the sum. Early fusion cannot
# (it raises an error naming the sample).

# %%
no_audio = test_X.assign(audio=None)
for name in ("late, weights 1", "late, CV weights"):
    print(f"{name:>17} without audio: accuracy {models[name].score(no_audio, test_y):.3f}")
try:
    models["early fusion"].predict(no_audio)
except ValueError as error:
    print("early fusion:", error)
print(f"tutorial ran in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# # Audio features and hidden Markov models
#
# This tutorial turns audio clips into MFCC frames with
# `mmfuse.audio.MFCCExtractor` and classifies them with one hidden Markov
# model per class, `mmfuse.probabilistic.HMMClassifier`: the classic recipe
# for recognising isolated spoken words. It runs on generated "words" so that
# it needs no data; the same code on the Free Spoken Digit Dataset is at the
# end, with the benchmark figures.
#
# ## The generative story of an HMM
#
# An HMM explains a sequence of observations `x_1 .. x_T` (here: one MFCC
# frame every 10 ms) by a hidden state sequence `s_1 .. s_T`:
#
# 1. pick the first state from the start distribution `pi`;
# 2. in state `s_t`, emit a frame `x_t` from that state's Gaussian
#    (or Gaussian mixture) `N(mu_s, Sigma_s)`;
# 3. move to the next state with probability `A[s_t, s_{t+1}]`, and repeat.
#
# For a spoken word the states are its successive sounds. A *left-right*
# (Bakis) model only lets a state stay (the self-loop sets how long the sound
# lasts, a geometric duration) or move on to the next one, so the states of
# the model for "seven" line up with /s/, /e/, /v/, /e/, /n/ in order. The
# likelihood `p(x | word)` sums over every way of cutting the frames into
# those sounds (the forward algorithm); Baum-Welch fits `pi`, `A`, `mu` and
# `Sigma` from example recordings; Bayes' rule with the class priors turns the
# likelihoods of the ten word models into posteriors `p(word | x)`.

# %%
import os
import warnings
from pathlib import Path

import librosa
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mmfuse.audio import MFCCExtractor
from mmfuse.encoding import BagOfWords
from mmfuse.probabilistic import HMMClassifier

OUT = Path(os.environ.get("MMFUSE_DOCS_OUT", "."))
SR = 8000
rng = np.random.default_rng(0)

# %% [markdown]
# ## Generated words
#
# Each "sound" is a vowel-like pair of formants or a fricative-like noise
# burst. A word is three sounds in a fixed order, each lasting a random
# time, between silences: exactly the left-right story above. The words
# share sounds, so only their *order* tells them apart, which a bag of
# frames cannot see but an HMM can.

# %%
SOUNDS = {
    "a": (700, 1200),   # formant frequencies in Hz
    "i": (300, 2300),
    "u": (350, 800),
    "s": None,          # a high-passed noise burst
}
WORDS = {"asi": "asi", "isa": "isa", "uas": "uas", "sua": "sua"}


def sound(name, duration):
    t = np.arange(int(duration * SR)) / SR
    if SOUNDS[name] is None:
        burst = rng.normal(size=t.size)
        burst = np.diff(burst, prepend=0.0)  # tilt the noise to high frequencies
        return 0.15 * burst
    f1, f2 = SOUNDS[name]
    vibrato = 1 + 0.01 * np.sin(2 * np.pi * 5 * t)
    return 0.4 * np.sin(2 * np.pi * f1 * vibrato * t) + 0.2 * np.sin(2 * np.pi * f2 * t)


def say(word):
    parts = [np.zeros(int(rng.uniform(0.05, 0.2) * SR))]
    for name in word:
        segment = sound(name, rng.uniform(0.08, 0.2))
        parts.append(segment * np.hanning(segment.size) ** 0.25)
    parts.append(np.zeros(int(rng.uniform(0.05, 0.2) * SR)))
    clip = np.concatenate(parts)
    return (clip + 0.003 * rng.normal(size=clip.size)).astype(np.float32)


labels = np.array([w for w in WORDS for _ in range(30)])
clips = [say(WORDS[w]) for w in labels]
test = np.zeros(len(labels), bool)
test[np.arange(len(labels)) % 3 == 0] = True
print(f"{len(clips)} clips, {len(WORDS)} words, {test.sum()} held out")

# %% [markdown]
# ## MFCC frames as descriptor sets
#
# `MFCCExtractor` reads each cell (a path, WAV bytes, an array at `sr`, or a
# `(samples, rate)` tuple), trims leading and trailing silence, and returns
# one 39-dimensional frame (13 MFCCs + deltas + delta-deltas, normalised per
# clip) every 10 ms, as a `DescriptorSet`: one float32 matrix plus offsets,
# the same container SIFT keypoints use. Frame times are in `positions`.

# %%
mfcc = MFCCExtractor(sr=SR, trim_db=30)
frames = mfcc.fit_transform(clips)
print(frames, "frames per clip:", frames.lengths.min(), "to", frames.lengths.max())
print(mfcc.get_feature_names_out()[[0, 12, 13, 26]])

# %% [markdown]
# ## One HMM per word
#
# Three sounds per word, so three states, left to right. `decision_function`
# gives `log p(x | word)` for every word model; `predict_proba` the
# posteriors. The covariance of each state's Gaussian is chosen from the
# data (`covariance_type="auto"`): full covariances, which model how the
# MFCCs and their deltas vary together, once every state of the smallest
# class has at least 10 frames per feature, diagonal ones below that, where
# full ones overfit.

# %%
hmm = HMMClassifier(n_states=3, topology="left-right", random_state=0)
hmm.fit(frames[~test], labels[~test])
predicted = hmm.predict(frames[test])
print("HMM accuracy:", accuracy_score(labels[test], predicted),
      "| covariances:", hmm.covariance_type_)
print(confusion_matrix(labels[test], predicted, labels=list(WORDS)))
print("posteriors of the first test clip:",
      dict(zip(hmm.classes_.tolist(), hmm.predict_proba(frames[test][:1])[0].round(3).tolist(),
               strict=True)))

# %% [markdown]
# For comparison, models that pool the frames and forget their order: a bag
# of acoustic words, and the per-clip mean and standard deviation of the
# MFCCs with an SVM. Without deltas a frame describes one instant, and every
# word has the same three sounds, so pooled frames tell the words apart
# poorly. Deltas describe how the spectrum moves at each instant, which
# carries the local order of the sounds (a rising or falling transition),
# and pooled models then do well on these easy words too; the HMM models the
# whole sequence and, below, tells *where* each sound is.

# %%
for deltas in (0, 2):
    pooled = MFCCExtractor(sr=SR, trim_db=30, deltas=deltas)
    pooled_frames = pooled.fit_transform(clips)
    bow = make_pipeline(BagOfWords(n_words=16, random_state=0),
                        LogisticRegression(max_iter=1000))
    bow.fit(pooled_frames[~test], labels[~test])
    summary = pooled.set_params(output="summary").fit_transform(clips)
    svm = make_pipeline(StandardScaler(), SVC()).fit(summary[~test], labels[~test])
    print(f"deltas={deltas}: bag of frames "
          f"{accuracy_score(labels[test], bow.predict(pooled_frames[test])):.2f}, "
          f"summary + SVM {accuracy_score(labels[test], svm.predict(summary[test])):.2f}")

# %% [markdown]
# ## What the states mean: a decoded state path
#
# The Viterbi path (`HMMClassifier.decode`) assigns every frame to a state of
# the word's model. For a left-right model it cuts the clip into consecutive
# segments, and they fall on the sounds of the word: the states *are* the
# sounds, learned without ever being told where they start.

# %%
index = np.flatnonzero(test)[0]
clip, word = clips[index], labels[index]
path = hmm.decode(frames[[index]], [word])[0]
times = frames.positions[frames.offsets[index]:frames.offsets[index + 1], 0]
mel = librosa.power_to_db(librosa.feature.melspectrogram(y=clip, sr=SR, n_fft=256,
                                                         hop_length=80, n_mels=40))

fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
top.imshow(mel, origin="lower", aspect="auto", cmap="magma",
           extent=[0, clip.size / SR, 0, mel.shape[0]])
top.set_ylabel("mel band")
top.set_title(f"word '{word}': mel spectrogram and Viterbi state path")
bottom.step(times, path, where="mid")
bottom.set_yticks(range(hmm.n_states))
bottom.set_ylabel("state")
bottom.set_xlabel("time (s)")
for state in range(hmm.n_states):
    span = times[path == state]
    if span.size:
        top.axvspan(span[0], span[-1], ymin=0.95, ymax=1.0, color=f"C{state}")
        top.text((span[0] + span[-1]) / 2, mel.shape[0] * 0.9, word[state], color="white",
                 ha="center", fontsize=14)
fig.tight_layout()
fig.savefig(OUT / "03_audio_hmm_state_path.png", dpi=80)
print("state path:", "".join(str(s) for s in path))

# %% [markdown]
# The fitted transition matrix says how long each sound lasts: a self-loop
# probability `a` gives an expected duration of `1 / (1 - a)` frames.

# %%
model = hmm.models_[list(hmm.classes_).index(word)]
durations = 1 / (1 - np.diag(model.transmat_)[:-1])
print("expected frames in states 0, 1:", durations.round(1), "(10 ms each)")

# %% [markdown]
# ## Missing and awkward clips
#
# A missing cell (`None`) has no frames; so does a silent clip (with a
# warning). A sequence without frames has likelihood 1 under every model, so
# its posterior is the class prior: the honest answer when nothing was heard.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    odd = mfcc.transform([None, np.zeros(SR // 2, np.float32)])
print("lengths:", odd.lengths, "missing:", odd.missing, "|", caught[0].message)
print("posterior of a missing clip:", hmm.predict_proba(odd[:1]).round(3))

# %% [markdown]
# ## On real recordings: the Free Spoken Digit Dataset
#
# With a copy of FSDD (3,000 recordings of the digits, 6 speakers, 8 kHz),
# `MFCCExtractor()` and `HMMClassifier()` with their defaults reach 0.993 on
# the official test split: 12 states, and full covariances, which
# `covariance_type="auto"` picks from 2,700 training clips (0.987 with
# diagonal ones, at 0.6x the fit time; see `benchmarks/results/defaults.md`,
# and `benchmarks/results/fsdd.md`, produced by `benchmarks/fsdd.py`, for
# the Fisher-vector and SVM baselines and the speaker-independent
# evaluation):
#
# ```python
# from mmfuse.datasets import load_fsdd
# data = load_fsdd("path/to/fsdd")          # Bunch: audio paths, target, speaker, is_test
# frames = MFCCExtractor().fit_transform(data.audio)
# hmm = HMMClassifier(random_state=0)
# hmm.fit(frames[~data.is_test], data.target[~data.is_test])
# hmm.score(frames[data.is_test], data.target[data.is_test])
# ```

"""The named suites: their tasks (datasets, splits, features) and their models.

- ``classification``: make_shapes (generated), audio-visual digits (MNIST +
  FSDD), Wikipedia categories. Classical features and fusion models are those
  of ``benchmarks/fusion.py`` and ``benchmarks/probabilistic.py``, so the
  numbers are comparable with those pages.
- ``sequence``: FSDD spoken digits (MFCC frames: HMMs, Fisher vectors); on tiny
  runs, the make_shapes audio clips.
- ``retrieval``: Wikipedia image <-> text and make_shapes image <-> text.
- ``kernels``: the speed suite of ``benchmarks/kernels.py``.

Every task builder takes a :class:`SuiteConfig` and returns a
:class:`~benchmarks.harness.Task` or raises ``FileNotFoundError`` when its
data is absent (the runner then skips it with a line saying why).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from mmfuse.bench.harness import Features, ModelSpec, Task, timed


@dataclass
class SuiteConfig:
    """What a suite run needs from the command line.

    ``tiny`` shrinks every task to a few dozen generated samples and the deep
    models to two epochs: a smoke test of the harness (seconds), not results.
    ``train_fraction`` keeps a stratified, seeded share of each split's
    training rows (a data-efficiency run); the test rows never change.
    """

    data_dir: str | None = None
    tiny: bool = False
    deep: bool = True
    train_fraction: float = 1.0
    epochs: int = 50
    patience: int = 10
    shapes_n_samples: int = 600
    shapes_noise: float = 2.0
    av_noise: float = 1.0
    C: float = 1.0
    tasks: list | None = None
    extra: dict = field(default_factory=dict)

    @property
    def deep_epochs(self):
        return 2 if self.tiny else self.epochs


# ---------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------

def _subsample(train, y, fraction, seed):
    if fraction >= 1.0:
        return train
    keep, _ = train_test_split(train, train_size=fraction, stratify=y[train],
                               random_state=seed)
    return np.sort(keep)


def official_split(is_test, y, fraction=1.0):
    """The dataset's own train/test split; seeds only change models (and subsampling)."""
    is_test = np.asarray(is_test, dtype=bool)
    train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)

    def split(seed):
        return _subsample(train, y, fraction, seed), test
    return split


def shuffle_split(y, test_size=0.25, fraction=1.0):
    """A stratified random split drawn from the seed."""
    def split(seed):
        splitter = StratifiedShuffleSplit(1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(np.zeros(len(y)), y))
        return _subsample(np.sort(train), y, fraction, seed), np.sort(test)
    return split


def _split_note(kind, fraction):
    share = "" if fraction >= 1.0 else (f"; {fraction:.0%} of the training rows kept "
                                         "(stratified, drawn from the seed)")
    if kind == "official":
        return ("the dataset's official train/test split (the same for every seed; seeds "
                "change model initialisation, codebooks and deep models' validation rows)"
                + share)
    return "stratified 75 % / 25 % train/test split drawn from each seed" + share


# ---------------------------------------------------------------------------------------
# Classification tasks: the datasets of benchmarks/fusion.py
# ---------------------------------------------------------------------------------------

def _fused_featurizer(ds):
    """(train, test) -> Features: the modalities' blocks side by side, as in fusion.py."""
    from mmfuse.bench.datasets import stack_blocks

    def featurize(train, test):
        tr, te, costs = ds.featurize(train, test)
        X_tr, X_te, blocks = stack_blocks(tr, te, ds.modalities)
        return Features(X_tr, X_te, {"blocks": blocks, "costs": costs, "kernels": ds.kernels,
                                     "modalities": list(ds.modalities)})
    return featurize


def _fusion_args(config: SuiteConfig, seed=0):
    n = 90 if config.tiny else config.shapes_n_samples
    return SimpleNamespace(n_samples=n, noise=config.shapes_noise, seed=seed,
                           data_dir=config.data_dir, av_noise=config.av_noise,
                           av_n_samples=None)


def _classification_task(ds, config, split_kind) -> Task:
    y = np.asarray(ds.y)
    if split_kind == "official":
        split = official_split(ds.is_test, y, config.train_fraction)
    else:
        split = shuffle_split(y, fraction=config.train_fraction)
    return Task(name=ds.name, kind="classification", description=ds.description, y=y,
                modalities=list(ds.modalities), raw=ds.raw, featurize=_fused_featurizer(ds),
                split=split, split_note=_split_note(split_kind, config.train_fraction),
                target_names=ds.target_names, setup_seconds=dict(ds.setup_seconds))


def shapes_task(config: SuiteConfig) -> Task:
    from mmfuse.bench.datasets import shapes_dataset

    return _classification_task(shapes_dataset(_fusion_args(config)), config, "random")


def av_digits_task(config: SuiteConfig) -> Task:
    from mmfuse.bench.datasets import av_digits_dataset

    return _classification_task(av_digits_dataset(_fusion_args(config)), config, "official")


def wikipedia_task(config: SuiteConfig) -> Task:
    from mmfuse.bench.datasets import wikipedia_dataset

    return _classification_task(wikipedia_dataset(_fusion_args(config)), config, "official")


# Deep encoders per (task, modality): the raw media each dataset holds.
DEEP_ENCODERS = {
    "shapes": {"image": "convnet", "text": "text_bag", "audio": "audio_cnn"},
    "av_digits": {"image": "lenet", "audio": "audio_cnn"},
    "wikipedia": {"image": "mlp", "text": "text_bag"},
}
# The GRU reads the first 200 tokens of a text: over whole Wikipedia articles (about 600
# tokens on average) a 2-core CPU needs most of an hour per seed for one GRU baseline.
TEXT_GRU_MAX_LEN = 200
SAMPLE_RATES = {"shapes": 8000, "av_digits": 8000, "fsdd": 8000, "shapes_audio": 8000}


def _lr(C):
    return LogisticRegression(C=C, max_iter=3000)


def classification_models(task: Task, config: SuiteConfig) -> dict:
    """Single modalities, early/late/kernel fusion, Bayesian networks and deep baselines."""
    from mmfuse.fusion import (
        BlockNormalizer,
        EarlyFusion,
        KernelFusionClassifier,
        LateFusionClassifier,
    )
    from mmfuse.probabilistic import ModalityDiscretizer, MultimodalBayesNet

    C = config.C
    mods = task.modalities

    def triples(info):
        return [(m, "passthrough", info["blocks"][m]) for m in mods]

    def leaf():
        return Pipeline([("normalize", BlockNormalizer()), ("clf", _lr(C))])

    def only(m):
        return lambda info, seed: Pipeline([
            ("fusion", EarlyFusion([(m, "passthrough", info["blocks"][m])])), ("clf", _lr(C))])

    def late(rule):
        return lambda info, seed: LateFusionClassifier(
            [(m, leaf(), info["blocks"][m]) for m in mods], combine=rule, cv=5)

    def bayes_net(structure):
        def build(info, seed):
            disc = ModalityDiscretizer(triples(info), method="supervised", classifier=leaf(),
                                       cv=5, random_state=seed)
            return MultimodalBayesNet(structure, discretizer=disc, class_name="class")
        return build

    models = {f"only {m}": ModelSpec(f"only {m}", "single modality", only(m)) for m in mods}
    models["early"] = ModelSpec("early", "fusion", lambda info, seed: Pipeline([
        ("fusion", EarlyFusion(triples(info), missing="zero", add_indicator=True)),
        ("clf", _lr(C))]), missing=True)
    models["late mean"] = ModelSpec("late mean", "fusion", late("mean"), missing=True)
    models["late stacking"] = ModelSpec("late stacking", "fusion", late("stacking"),
                                        missing=True)
    models["kernel (alignment)"] = ModelSpec(
        "kernel (alignment)", "fusion",
        lambda info, seed: KernelFusionClassifier(triples(info), kernel=info["kernels"]),
        missing=True)
    models["Bayes net, naive"] = ModelSpec("Bayes net, naive", "probabilistic",
                                           bayes_net("naive_bayes"), missing=True)
    models["Bayes net, TAN"] = ModelSpec("Bayes net, TAN", "probabilistic", bayes_net("tan"),
                                         missing=True)
    models.update(deep_classification_models(task, config))
    return models


def deep_available() -> str | None:
    """None when the deep baselines can run, else the reason they cannot."""
    try:
        import mmfuse.bench.baselines  # noqa: F401
    except ImportError as exc:
        return f"deep baselines skipped: {exc}"
    return None


def deep_classification_models(task: Task, config: SuiteConfig) -> dict:
    if not config.deep or deep_available():
        return {}
    encoders = DEEP_ENCODERS[task.name]
    common = {"epochs": config.deep_epochs, "patience": config.patience,
              "max_len": TEXT_GRU_MAX_LEN, "sample_rate": SAMPLE_RATES.get(task.name, 8000)}

    def deep(enc, fusion="early"):
        def build(info, seed):
            from mmfuse.bench.baselines import DeepFusionClassifier

            return DeepFusionClassifier(enc, fusion=fusion, random_state=seed, verbose=0,
                                        **common)
        return build

    models = {}
    for m, kind in encoders.items():
        models[f"deep {kind} ({m})"] = ModelSpec(f"deep {kind} ({m})", "deep",
                                                  deep({m: kind}), input="raw")
        if kind == "text_bag":
            models[f"deep text_gru ({m})"] = ModelSpec(f"deep text_gru ({m})", "deep",
                                                      deep({m: "text_gru"}), input="raw")
            if _minilm_available():
                models["frozen MiniLM + head (text)"] = ModelSpec(
                    "frozen MiniLM + head (text)", "deep", deep({m: "minilm"}), input="raw")
    models["deep early fusion"] = ModelSpec("deep early fusion", "deep", deep(encoders),
                                            input="raw", missing=True)
    models["deep late fusion"] = ModelSpec("deep late fusion", "deep", deep(encoders, "late"),
                                           input="raw", missing=True)
    return models


def _minilm_available() -> bool:
    try:
        from mmfuse.bench.baselines import minilm_available
    except ImportError:
        return False
    return minilm_available() is None


# ---------------------------------------------------------------------------------------
# Sequence suite: FSDD (MFCC frame sequences), make_shapes audio on tiny runs
# ---------------------------------------------------------------------------------------

# benchmarks/fsdd.py's settings, so the HMM figures are comparable with that page.
MFCC_OPTIONS = {"n_mfcc": 13, "deltas": 2, "trim_db": 30.0, "pre_emphasis": 0.97}


def _sequence_task(name, audio, y, sr, split, split_note, description, target_names,
                   setup) -> Task:
    from mmfuse.audio import MFCCExtractor

    opts = MFCC_OPTIONS
    frames, frames_s, _ = timed(MFCCExtractor(sr=sr, **opts).fit_transform, audio)
    summary, summary_s, _ = timed(MFCCExtractor(sr=sr, output="summary", **opts)
                                  .fit_transform, audio)
    setup = {**setup, "MFCC frames (all clips)": frames_s,
             "MFCC summaries (all clips)": summary_s}

    def featurize(train, test):
        return Features({"frames": frames[train], "summary": summary[train]},
                        {"frames": frames[test], "summary": summary[test]}, {})

    raw = pd.DataFrame({"audio": pd.Series(list(audio), dtype=object)})
    return Task(name=name, kind="sequence", description=description, y=np.asarray(y),
                modalities=["audio"], raw=raw, featurize=featurize, split=split,
                split_note=split_note, target_names=target_names, setup_seconds=setup)


def fsdd_task(config: SuiteConfig) -> Task:
    from mmfuse.datasets import load_fsdd

    data, load_s, _ = timed(load_fsdd, config.data_dir, load_audio=True)
    y = data.target
    return _sequence_task(
        "fsdd", data.audio, y, 8000, official_split(data.is_test, y, config.train_fraction),
        _split_note("official", config.train_fraction) + " (takes 0-4 of every speaker "
        "and digit are the 300 test clips)",
        "Free Spoken Digit Dataset: 3,000 8 kHz recordings, 6 speakers x 10 digits x 50 "
        "takes. Classical input: MFCC frames (13 + deltas + delta-deltas, silence trimmed, "
        "per-utterance CMVN) or their mean/std summary; deep input: the waveform.",
        [str(d) for d in range(10)], {"load_fsdd": load_s})


def shapes_audio_task(config: SuiteConfig) -> Task:
    from mmfuse.datasets import make_shapes

    n = 90 if config.tiny else config.shapes_n_samples
    data, gen_s, _ = timed(make_shapes, n, noise=config.shapes_noise, random_state=0)
    y = data.target
    return _sequence_task(
        "shapes_audio", data.frame["audio"].to_list(), y, data.audio_sample_rate,
        shuffle_split(y, fraction=config.train_fraction),
        _split_note("random", config.train_fraction),
        f"The audio clips of `make_shapes(n_samples={n}, noise={config.shapes_noise})` "
        "(generated): the scene class from its sound alone.",
        list(data.target_names), {"make_shapes": gen_s})


def sequence_models(task: Task, config: SuiteConfig) -> dict:
    from sklearn.svm import SVC

    from mmfuse.encoding import FisherVector
    from mmfuse.probabilistic import HMMClassifier

    states = 3 if config.tiny else 8
    words = 4 if config.tiny else 16
    models = {
        "HMM (Gaussian, left-right)": ModelSpec(
            "HMM (Gaussian, left-right)", "probabilistic",
            lambda info, seed: HMMClassifier(
                n_states=states, topology="left-right", covariance_type="diag",
                random_state=seed), view="frames"),
        "Fisher vector + logistic": ModelSpec(
            "Fisher vector + logistic", "classical",
            lambda info, seed: make_pipeline(
                FisherVector(n_words=words, random_state=seed),
                LogisticRegression(C=10.0, max_iter=2000)), view="frames"),
        "MFCC summary + SVM": ModelSpec(
            "MFCC summary + SVM", "classical",
            lambda info, seed: make_pipeline(
                StandardScaler(), SVC(C=10.0, gamma="scale")), view="summary"),
    }
    if config.deep and not deep_available():
        for kind in ("audio_cnn", "audio_gru"):
            def build(info, seed, kind=kind):
                from mmfuse.bench.baselines import DeepFusionClassifier

                return DeepFusionClassifier(
                    {"audio": kind}, epochs=config.deep_epochs, patience=config.patience,
                    sample_rate=SAMPLE_RATES.get(task.name, 8000), random_state=seed,
                    verbose=0)
            models[f"deep {kind}"] = ModelSpec(f"deep {kind}", "deep", build, input="raw")
    return models


# ---------------------------------------------------------------------------------------
# Retrieval suite
# ---------------------------------------------------------------------------------------

def _text_space(texts, train, test, n_components, seed):
    """TF-IDF of the training texts, then LSA (TruncatedSVD) to ``n_components``."""
    from sklearn.decomposition import TruncatedSVD

    from mmfuse.text import TextVectorizer

    tfidf = TextVectorizer(sublinear_tf=True, min_df=2, max_features=5000)
    T_tr = tfidf.fit_transform(texts.iloc[train])
    k = min(n_components, T_tr.shape[1] - 1, len(train) - 1)
    lsa = TruncatedSVD(k, random_state=seed).fit(T_tr)
    return lsa.transform(T_tr), lsa.transform(tfidf.transform(texts.iloc[test]))


def wikipedia_retrieval_task(config: SuiteConfig) -> Task:
    from mmfuse.datasets import load_wikipedia

    data, load_s, _ = timed(load_wikipedia, config.data_dir)
    images = data.image_features / np.maximum(
        data.image_features.sum(axis=1, keepdims=True), 1e-12)
    texts = data.frame["text"]
    y = data.target

    def featurize(train, test):
        T_tr, T_te = _text_space(texts, train, test, 100, 0)
        return Features((images[train], T_tr), (images[test], T_te), {"metric": "cosine"})

    raw = pd.DataFrame({"image": list(images), "text": texts.to_numpy(dtype=object)})
    return Task(
        name="wikipedia", kind="retrieval",
        description=("Wikipedia cross-modal dataset (Rasiwasia et al. 2010), 2,866 "
                     "image-text pairs, 10 categories; a retrieved item is relevant when it "
                     "shares the query's category. Image view: the authors' 128-word SIFT "
                     "bag of visual words (L1-normalised; the raw images are not "
                     "distributed); text view: TF-IDF of the raw article (5,000 terms, "
                     "fitted on the training texts) reduced by LSA to 100 dimensions "
                     "(classical), the raw text (deep)."),
        y=y, modalities=["image", "text"], raw=raw, featurize=featurize,
        split=official_split(data.split == "test", y, config.train_fraction),
        split_note=_split_note("official", config.train_fraction),
        target_names=list(data.target_names), setup_seconds={"load_wikipedia": load_s})


def shapes_retrieval_task(config: SuiteConfig) -> Task:
    from mmfuse.datasets import make_shapes
    from mmfuse.encoding import BagOfWords
    from mmfuse.image import SIFTExtractor

    n = 90 if config.tiny else config.shapes_n_samples
    data, gen_s, _ = timed(make_shapes, n, noise=config.shapes_noise, random_state=0)
    frame = data.frame
    sift, sift_s, _ = timed(SIFTExtractor(mode="sparse", rootsift=True).fit_transform,
                            frame["image"])
    texts = frame["text"]

    def featurize(train, test):
        bow = BagOfWords(n_words=16 if config.tiny else 64, random_state=0).fit(sift[train])
        T_tr, T_te = _text_space(texts, train, test, 10 if config.tiny else 50, 0)
        return Features((bow.transform(sift[train]), T_tr),
                        (bow.transform(sift[test]), T_te), {"metric": "cosine"})

    raw = frame[["image", "text"]].copy()
    raw["text"] = raw["text"].astype(object)
    return Task(
        name="shapes", kind="retrieval",
        description=(f"`make_shapes(n_samples={n}, noise={config.shapes_noise})` image-text "
                     "pairs; relevant = same scene class. Image view: sparse RootSIFT + bag "
                     "of words; text view: TF-IDF + LSA (classical); raw image and text "
                     "(deep)."),
        y=data.target, modalities=["image", "text"], raw=raw, featurize=featurize,
        split=shuffle_split(data.target, fraction=config.train_fraction),
        split_note=_split_note("random", config.train_fraction),
        target_names=list(data.target_names),
        setup_seconds={"make_shapes": gen_s, "sift (all samples)": sift_s})


def retrieval_models(task: Task, config: SuiteConfig) -> dict:
    from sklearn.linear_model import LogisticRegressionCV

    from mmfuse.crossmodal import (
        CCA,
        KernelCCA,
        RankingEmbedding,
        SemanticCorrelationMatching,
        SemanticMatching,
    )

    def logistic():
        return make_pipeline(StandardScaler(), LogisticRegressionCV(
            Cs=np.logspace(-3, 2, 6), cv=3, max_iter=3000, scoring="neg_log_loss"))

    k = 5 if config.tiny else 10
    models = {
        "CCA": ModelSpec("CCA", "CCA family",
                         lambda info, seed: CCA(n_components=k, reg_x=0.1, reg_y=0.1)),
        "kernel CCA": ModelSpec("kernel CCA", "CCA family", lambda info, seed: KernelCCA(
            n_components=k, kernel="rbf", n_approx_components=200 if config.tiny else 1000,
            reg_x=0.1, reg_y=0.1, random_state=seed)),
        "semantic matching (SM)": ModelSpec(
            "semantic matching (SM)", "semantic",
            lambda info, seed: SemanticMatching(logistic(), logistic())),
        "semantic correlation matching (SCM)": ModelSpec(
            "semantic correlation matching (SCM)", "semantic",
            lambda info, seed: SemanticCorrelationMatching(
                CCA(n_components=k, reg_x=0.1, reg_y=0.1), logistic())),
        "ranking embedding (linear, hinge)": ModelSpec(
            "ranking embedding (linear, hinge)", "ranking",
            lambda info, seed: RankingEmbedding(n_components=32, margin=0.5,
                                                learning_rate=1e-2, random_state=seed)),
    }
    if config.deep and not deep_available():
        image_enc = {"wikipedia": "mlp", "shapes": "convnet"}[task.name]
        for text_enc in ("text_bag", *(("minilm",) if _minilm_available() else ())):
            name = f"deep two-tower ({image_enc} + {text_enc}, hinge rank loss)"

            def build(info, seed, text_enc=text_enc):
                from mmfuse.bench.baselines import TwoTowerRetriever

                return TwoTowerRetriever(image_enc, text_enc, epochs=config.deep_epochs,
                                         patience=config.patience, random_state=seed, verbose=0)
            models[name] = ModelSpec(name, "deep", build, input="raw")
    return models


# ---------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------

SUITES = {
    "classification": {"tasks": {"shapes": shapes_task, "av_digits": av_digits_task,
                                 "wikipedia": wikipedia_task},
                       "models": classification_models, "generated": ["shapes"]},
    "sequence": {"tasks": {"fsdd": fsdd_task, "shapes_audio": shapes_audio_task},
                 "models": sequence_models, "generated": ["shapes_audio"],
                 "default": ["fsdd"]},
    "retrieval": {"tasks": {"wikipedia": wikipedia_retrieval_task,
                            "shapes": shapes_retrieval_task},
                  "models": retrieval_models, "generated": ["shapes"]},
    "kernels": {"tasks": {}, "models": None, "generated": []},
}


def task_names(suite: str, config: SuiteConfig) -> list[str]:
    """The tasks a run of ``suite`` attempts: generated ones only on tiny runs."""
    spec = SUITES[suite]
    if config.tasks:
        unknown = set(config.tasks) - set(spec["tasks"])
        if unknown:
            raise ValueError(f"suite {suite!r} has no task(s) {sorted(unknown)}; "
                             f"choose from {sorted(spec['tasks'])}")
        return list(config.tasks)
    if config.tiny:
        return list(spec["generated"])
    return list(spec.get("default", spec["tasks"]))


def build_task(suite: str, name: str, config: SuiteConfig) -> Task:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        return SUITES[suite]["tasks"][name](config)

"""Sequence classification with one hidden Markov model per class (hmmlearn)."""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from hmmlearn import _hmmc
from hmmlearn.hmm import GaussianHMM
from joblib import Parallel, delayed
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from mmfuse._config import resolve_verbose
from mmfuse.descriptors import DescriptorSet, as_descriptor_set

_COVARIANCE_TYPES = {"diag", "spherical", "full", "tied"}
# covariance_type="auto": full covariances from this many frames per Gaussian and feature
_FULL_FRAMES_PER_FEATURE = 10


class HMMClassifier(ClassifierMixin, BaseEstimator):
    """Classify variable-length sequences with one hidden Markov model per class.

    Each class ``c`` gets its own HMM, fitted by Baum-Welch (hmmlearn) on the
    training sequences of that class: a :class:`hmmlearn.hmm.GaussianHMM`
    (``n_mix=1``) or a :class:`hmmlearn.hmm.GMMHMM` (``n_mix > 1``). A new
    sequence ``x`` is scored under every model, and Bayes' rule turns the
    log-likelihoods ``log p(x | c)`` and the class priors ``p(c)`` into class
    posteriors ``p(c | x)``. This is the classic recipe for isolated-word
    recognition over MFCC frames (see :class:`mmfuse.audio.MFCCExtractor`).

    Sequences are the samples of a :class:`~mmfuse.descriptors.DescriptorSet`
    (or a list of ``(n_frames_i, n_features)`` arrays): hmmlearn receives
    the frames of a class concatenated, with the ``lengths`` of the
    individual sequences, so no transition is ever counted across two
    sequences.

    Parameters
    ----------
    n_states : int, default=12
        Hidden states per class model. Twelve states follow a spoken word's
        sounds more closely than eight (the default until 0.1: 0.987 against
        0.973 on FSDD's official split, 0.813 against 0.803 on audio-visual
        digits' noisy audio, at about 1.4x the fit time) or five (see
        ``benchmarks/results/defaults.md``); sequences shorter than
        `n_states` frames are still scored. Pass ``n_states=8`` for the
        earlier models.
    n_mix : int, default=1
        Gaussian components per state; 1 gives ``GaussianHMM``, more gives
        ``GMMHMM`` (slower to fit).
    topology : {"left-right", "ergodic"}, default="left-right"
        ``"left-right"`` (Bakis): every sequence starts in state 0, and a
        state can only stay or move to the next one, the usual model of a
        word as an ordered series of sounds. Transition probabilities that
        start at zero stay zero under Baum-Welch. Means and covariances
        start from a flat segmentation of each sequence into ``n_states``
        equal parts. ``"ergodic"``: any state can follow any other, with
        hmmlearn's k-means initialisation.
    covariance_type : {"auto", "diag", "spherical", "full", "tied"}, default="auto"
        Covariance of each Gaussian (hmmlearn's ``covariance_type``).
        ``"auto"`` picks ``"full"`` when the class with the fewest training
        frames has at least ``10 * n_features`` frames per Gaussian (its
        frames divided by ``n_states * n_mix``), and ``"diag"`` otherwise;
        the choice is in `covariance_type_`. Full covariances model the
        correlations between MFCCs and their deltas (FSDD's official split:
        0.993 against 0.987 for diagonal ones; audio-visual digits' noisy
        audio 0.867 against 0.813, at about 1.6x the fit time), but with
        few frames they overfit badly (0.17 against 0.94 on FSDD with 12
        clips per class), see ``benchmarks/results/defaults.md``. The
        default was ``"diag"`` until 0.1; pass it for the earlier models.
    n_iter : int, default=20
        Maximum number of Baum-Welch iterations per class.
    tol : float, default=1e-2
        Convergence threshold on the gain in training log-likelihood.
    min_covar : float, default=1e-3
        Floor added to the covariance diagonals, against degenerate
        (collapsing) Gaussians. Applies to the standardised frames when
        `standardize` is True.
    standardize : bool, default=True
        Standardise every frame feature with the mean and standard deviation
        of all training frames before fitting (one affine map shared by the
        classes, so it cannot favour any class). `decision_function` still
        returns log-densities of the original frames: the map's log-Jacobian
        is added back.
    class_prior : {"empirical", "uniform"} or array-like of shape (n_classes,), \
default="empirical"
        Prior ``p(c)`` in the posteriors: class frequencies in the training
        labels, equal priors, or given values (normalised to sum to 1).
    max_retries : int, default=2
        When fitting a class model fails (an exception from hmmlearn, or
        non-finite parameters or likelihood, typically a collapsing
        covariance), try again up to this many times, each time with a new
        seed, jittered initial means and ``min_covar`` ten times larger. Every
        retry is reported in a warning naming the class; when all attempts
        fail, ``fit`` raises RuntimeError.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation of every class model.
    n_jobs : int, default=None
        Class models fitted and scored in parallel (:class:`joblib.Parallel`).
        Results do not depend on it.
    verbose : int, default=None
        ``>= 1`` shows a progress bar over classes; None uses
        ``mmfuse.get_config()["verbose"]``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    models_ : list of hmmlearn models
        The HMM of each class, in ``classes_`` order, over standardised
        frames when `standardize` is True.
    class_log_prior_ : ndarray of shape (n_classes,)
        ``log p(c)``.
    mean_, scale_ : ndarray of shape (n_features,)
        Standardisation applied to frames (zeros and ones when `standardize`
        is False).
    n_features_in_ : int
        Frame dimension.
    n_iter_ : ndarray of shape (n_classes,)
        Baum-Welch iterations run for each class.
    converged_ : ndarray of bool of shape (n_classes,)
        Whether each class model met `tol` within `n_iter`.
    n_empty_ : int
        Training samples without frames, left out of the fit.
    covariance_type_ : str
        The covariance type of the fitted models (`covariance_type`, with
        ``"auto"`` resolved).

    Notes
    -----
    A sample without frames (a missing modality, or a silent clip) has
    log-likelihood 0 under every class model (the empty product), so its
    posterior is the class prior: the Bayes answer when nothing was
    observed. ``fit`` leaves such samples out of the HMMs but counts them
    in the empirical prior, and warns.

    A state that Baum-Welch never leaves (no expected outgoing transition,
    e.g. a left-right state reached only at the last frame) gets a
    self-loop of probability 1 so that the model stays valid; this does not
    change the likelihood of any training sequence. With ``n_mix > 1``,
    diagonal or spherical variances that Baum-Welch drove below
    `min_covar` are floored there (hmmlearn floors GaussianHMM states, not
    GMM components).

    Examples
    --------
    >>> import numpy as np
    >>> from mmfuse.probabilistic import HMMClassifier
    >>> rng = np.random.default_rng(0)
    >>> def word(first, second):  # two "sounds" of random durations
    ...     n1, n2 = rng.integers(5, 15, size=2)
    ...     return np.vstack([rng.normal(first, 0.5, (n1, 2)), rng.normal(second, 0.5, (n2, 2))])
    >>> X = [word(0, 3) for _ in range(20)] + [word(3, 0) for _ in range(20)]
    >>> y = ["up"] * 20 + ["down"] * 20
    >>> clf = HMMClassifier(n_states=2, random_state=0).fit(X, y)
    >>> clf.predict([word(0, 3), word(3, 0)]).tolist()
    ['up', 'down']
    >>> clf.decision_function([word(0, 3)]).shape  # log p(x | class) per class
    (1, 2)
    >>> clf.predict_proba([np.zeros((0, 2))]).round(2).tolist()  # no frames: the prior
    [[0.5, 0.5]]
    """

    _parameter_constraints = {
        "n_states": [Interval(Integral, 1, None, closed="left")],
        "n_mix": [Interval(Integral, 1, None, closed="left")],
        "topology": [StrOptions({"left-right", "ergodic"})],
        "covariance_type": [StrOptions(_COVARIANCE_TYPES | {"auto"})],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "min_covar": [Interval(Real, 0, None, closed="neither")],
        "standardize": ["boolean"],
        "class_prior": [StrOptions({"empirical", "uniform"}), "array-like"],
        "max_retries": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose", None],
    }

    def __init__(self, n_states=12, *, n_mix=1, topology="left-right", covariance_type="auto",
                 n_iter=20, tol=1e-2, min_covar=1e-3, standardize=True,
                 class_prior="empirical", max_retries=2, random_state=None, n_jobs=None,
                 verbose=None):
        self.n_states = n_states
        self.n_mix = n_mix
        self.topology = topology
        self.covariance_type = covariance_type
        self.n_iter = n_iter
        self.tol = tol
        self.min_covar = min_covar
        self.standardize = standardize
        self.class_prior = class_prior
        self.max_retries = max_retries
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- fitting ------------------------------------------------------------
    def fit(self, X, y):
        """Fit one HMM per class on the training sequences of that class.

        Parameters
        ----------
        X : DescriptorSet or list of arrays of shape (n_frames_i, n_features)
            One sequence of frames per sample.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self
        """
        self._validate_params()
        ds = self._validate_sequences(X, reset=True)
        y = column_or_1d(y, warn=True)
        if y.shape[0] != ds.n_samples:
            raise ValueError(
                f"X has {ds.n_samples} sequences but y has {y.shape[0]} labels")
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        n_classes = self.classes_.size
        self.class_log_prior_ = np.log(self._class_prior(np.bincount(y_index,
                                                                     minlength=n_classes)))

        lengths = ds.lengths
        empty = lengths == 0
        self.n_empty_ = int(empty.sum())
        if self.n_empty_:
            samples = np.flatnonzero(empty)
            warnings.warn(
                f"HMMClassifier: {self.n_empty_} training sample(s) without frames left out of "
                f"the class models, samples {_listed(samples)}",
                UserWarning, stacklevel=2)
        frames = ds.values.astype(np.float64)
        if self.standardize and frames.shape[0]:
            self.mean_ = frames[np.repeat(~empty, lengths)].mean(axis=0)
            scale = frames[np.repeat(~empty, lengths)].std(axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.mean_ = np.zeros(ds.n_features)
            self.scale_ = np.ones(ds.n_features)
        frames = (frames - self.mean_) / self.scale_

        sequence_ids = ds.sample_ids()
        jobs = []
        for c in range(n_classes):
            members = np.flatnonzero((y_index == c) & ~empty)
            if members.size == 0:
                raise ValueError(
                    f"HMMClassifier: class {_label(self.classes_[c])!r} has no training "
                    "sequence with frames; every class needs at least one")
            rows = np.isin(sequence_ids, members)
            jobs.append((frames[rows], lengths[members]))

        self.covariance_type_ = self._resolve_covariance_type(
            min(class_frames.shape[0] for class_frames, _ in jobs), ds.n_features)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max - self.max_retries - 1, size=n_classes)
        settings = self._settings()
        tasks = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(_fit_class_model)(class_frames, class_lengths, settings, int(seed))
            for (class_frames, class_lengths), seed in zip(jobs, seeds, strict=True))
        models = []
        with tqdm(total=n_classes, unit="class", desc="HMMClassifier.fit",
                  disable=resolve_verbose(self.verbose) < 1) as progress:
            for c, (model, problems) in enumerate(tasks):
                label = _label(self.classes_[c])
                if model is None:
                    raise RuntimeError(
                        f"HMMClassifier: could not fit the HMM of class {label!r} in "
                        f"{len(problems)} attempt(s): " + "; ".join(problems)
                        + ". Try fewer n_states, covariance_type='diag' or a larger min_covar")
                if problems:
                    warnings.warn(
                        f"HMMClassifier: the HMM of class {label!r} needed {len(problems)} "
                        "retry(ies) (new seed, jittered means, 10x min_covar): "
                        + "; ".join(problems), UserWarning, stacklevel=2)
                models.append(model)
                progress.update(1)
        self.models_ = models
        self.n_iter_ = np.array([m.monitor_.iter for m in models])
        self.converged_ = np.array([bool(m.monitor_.converged) for m in models])
        return self

    def _resolve_covariance_type(self, min_class_frames: int, n_features: int) -> str:
        """``covariance_type``, with ``"auto"`` decided from the smallest class's frames."""
        if self.covariance_type != "auto":
            return self.covariance_type
        frames_per_gaussian = min_class_frames / (self.n_states * self.n_mix)
        return "full" if frames_per_gaussian >= _FULL_FRAMES_PER_FEATURE * n_features else "diag"

    def _settings(self) -> dict:
        return dict(n_states=int(self.n_states), n_mix=int(self.n_mix), topology=self.topology,
                    covariance_type=self.covariance_type_, n_iter=int(self.n_iter),
                    tol=float(self.tol), min_covar=float(self.min_covar),
                    max_retries=int(self.max_retries))

    def _class_prior(self, counts: np.ndarray) -> np.ndarray:
        if isinstance(self.class_prior, str):
            if self.class_prior == "uniform":
                return np.full(counts.size, 1.0 / counts.size)
            return counts / counts.sum()
        prior = np.asarray(self.class_prior, dtype=np.float64).reshape(-1)
        if prior.size != counts.size or not np.all(np.isfinite(prior)) or np.any(prior < 0) \
                or prior.sum() <= 0:
            raise ValueError(
                f"class_prior must hold {counts.size} non-negative numbers (one per class, in "
                f"classes_ order) with a positive sum, got {self.class_prior!r}")
        return prior / prior.sum()

    def _validate_sequences(self, X, *, reset: bool) -> DescriptorSet:
        ds = as_descriptor_set(X)
        if reset:
            if ds.n_samples == 0:
                raise ValueError("HMMClassifier: fit needs at least one sequence, got 0")
            self.n_features_in_ = ds.n_features
        elif ds.n_features != self.n_features_in_ and ds.values.shape[0]:
            raise ValueError(
                f"sequences have {ds.n_features} features per frame, but HMMClassifier was "
                f"fitted with {self.n_features_in_}")
        if ds.values.size and not np.all(np.isfinite(ds.values)):
            bad = np.unique(ds.sample_ids()[~np.all(np.isfinite(ds.values), axis=1)])
            raise ValueError(f"HMMClassifier: frames of samples {_listed(bad)} contain NaN or "
                             "infinity")
        return ds

    # -- scoring ------------------------------------------------------------
    def decision_function(self, X):
        """Log-likelihood of each sequence under each class model, ``log p(x | c)``.

        Parameters
        ----------
        X : DescriptorSet or list of arrays of shape (n_frames_i, n_features)

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples, n_classes)
            Log-densities of the frames as given (the standardisation's
            log-Jacobian is accounted for); 0 for a sequence without frames.
        """
        check_is_fitted(self, "models_")
        ds = self._validate_sequences(X, reset=False)
        frames = (ds.values.astype(np.float64) - self.mean_) / self.scale_
        columns = Parallel(n_jobs=self.n_jobs)(
            delayed(_score_sequences)(model, frames, ds.lengths) for model in self.models_)
        log_likelihood = np.column_stack(columns) if columns else np.zeros((ds.n_samples, 0))
        log_likelihood -= ds.lengths[:, None] * np.log(self.scale_).sum()
        return log_likelihood

    def predict_log_proba(self, X):
        """Log posterior ``log p(c | x)`` of each class.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        joint = self.decision_function(X) + self.class_log_prior_
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Posterior ``p(c | x)`` of each class, from the log-likelihoods and the priors.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns in ``classes_`` order.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The class of highest posterior for each sequence.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        joint = self.decision_function(X) + self.class_log_prior_
        return self.classes_[np.argmax(joint, axis=1)]

    def score_samples(self, X):
        """Log marginal likelihood ``log p(x) = log sum_c p(c) p(x | c)`` of each sequence.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        return logsumexp(self.decision_function(X) + self.class_log_prior_, axis=1)

    def decode(self, X, y=None):
        """Most likely hidden-state path of each sequence (Viterbi).

        Parameters
        ----------
        X : DescriptorSet or list of arrays of shape (n_frames_i, n_features)
        y : array-like of shape (n_samples,), default=None
            Class whose model decodes each sequence; None uses the
            predicted class.

        Returns
        -------
        paths : list of ndarray of int
            State index of every frame (empty for a sequence without frames).
        """
        check_is_fitted(self, "models_")
        ds = self._validate_sequences(X, reset=False)
        labels = self.predict(ds) if y is None else column_or_1d(y)
        if len(labels) != ds.n_samples:
            raise ValueError(f"X has {ds.n_samples} sequences but y has {len(labels)} labels")
        index = {label: i for i, label in enumerate(self.classes_)}
        paths = []
        for i, label in enumerate(labels):
            if label not in index:
                raise ValueError(
                    f"unknown class {_label(label)!r}; classes are {self.classes_.tolist()}")
            frames = ds[i]
            if frames.shape[0] == 0:
                paths.append(np.zeros(0, dtype=np.int64))
                continue
            _, path = self.models_[index[label]].decode((frames - self.mean_) / self.scale_)
            paths.append(np.asarray(path, dtype=np.int64))
        return paths

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


# -- one class model (module level: runs in joblib workers) -----------------------
@contextmanager
def _quiet_hmmlearn():
    """hmmlearn reports through logging; its messages are folded into our own warnings."""
    logger = logging.getLogger("hmmlearn")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _fit_class_model(frames, lengths, settings, seed):
    """Fit one class HMM with retries; ``(model or None, list of problems)``.

    BLAS and OpenMP are held to one thread: the matrices of one HMM are tiny
    (a few states by a few dozen features), and threads only add overhead
    there, a lot of it on a loaded machine; parallelism is over classes.
    """
    with threadpool_limits(limits=1):
        return _fit_with_retries(frames, lengths, settings, seed)


def _fit_with_retries(frames, lengths, settings, seed):
    problems = []
    min_covar = settings["min_covar"]
    for attempt in range(settings["max_retries"] + 1):
        random_state = np.random.RandomState(seed + attempt)
        try:
            model = _new_model(settings, min_covar, random_state)
            if settings["topology"] == "left-right":
                _init_left_right(model, frames, lengths, settings, min_covar, random_state,
                                 jitter=0.1 * attempt)
            with _quiet_hmmlearn(), np.errstate(all="ignore"):
                model.fit(frames, lengths)
                _repair(model, min_covar)
                problem = _degeneracy(model)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            return model, problems
        problems.append(f"attempt {attempt + 1} (min_covar={min_covar:g}): {problem}")
        min_covar *= 10
    return None, problems


def _new_model(settings, min_covar, random_state):
    from hmmlearn import hmm

    left_right = settings["topology"] == "left-right"
    common = dict(n_components=settings["n_states"],
                  covariance_type=settings["covariance_type"], min_covar=min_covar,
                  n_iter=settings["n_iter"], tol=settings["tol"], random_state=random_state)
    if settings["n_mix"] == 1:
        return FrameBatchedGaussianHMM(**common, params="stmc",
                                       init_params="" if left_right else "stmc")
    return hmm.GMMHMM(n_mix=settings["n_mix"], **common, params="stmcw",
                      init_params="" if left_right else "stmcw")


class FrameBatchedGaussianHMM(GaussianHMM):
    """:class:`hmmlearn.hmm.GaussianHMM` whose Baum-Welch E-step is batched over frames.

    hmmlearn evaluates the emission densities and accumulates the emission
    statistics one sequence at a time: a Cholesky factorisation per state and
    per sequence, and for full covariances a three-operand ``einsum`` per
    sequence, which dominates the fit on short clips. Here the densities of
    all frames come from one call, and the statistics (``post``, ``obs``,
    ``obs**2``, ``obs*obs.T``) from GEMMs over all frames; only the
    forward-backward recursions and the transition counts stay per sequence
    (hmmlearn's own compiled kernels), and the state posteriors are
    normalised for all frames at once. The sums are hmmlearn's, so the fitted
    parameters are the same up to rounding (checked against hmmlearn in the
    tests).
    """

    def _do_estep(self, X, lengths):
        if self.implementation != "log":
            return super()._do_estep(X, lengths)
        stats = self._initialize_sufficient_statistics()
        self._estep_begin()
        log_frameprob = self._compute_log_likelihood(X)
        log_gamma = np.empty_like(log_frameprob)
        log_prob = 0.0
        starts, ends = _bounds(lengths)
        for start, end in zip(starts, ends, strict=True):
            rows = slice(start, end)
            lattice = log_frameprob[rows]
            sequence_log_prob, fwdlattice = _hmmc.forward_log(
                self.startprob_, self.transmat_, lattice)
            bwdlattice = _hmmc.backward_log(self.startprob_, self.transmat_, lattice)
            np.add(fwdlattice, bwdlattice, out=log_gamma[rows])
            if "t" in self.params and end - start > 1:
                log_xi_sum = _hmmc.compute_log_xi_sum(
                    fwdlattice, self.transmat_, bwdlattice, lattice)
                with np.errstate(under="ignore"):
                    stats["trans"] += np.exp(log_xi_sum)
            log_prob += sequence_log_prob
        # hmmlearn's _compute_posteriors_log, for all frames at once
        log_gamma -= logsumexp(log_gamma, axis=1, keepdims=True)
        with np.errstate(under="ignore"):
            posteriors = np.exp(log_gamma)
        stats["nobs"] += len(starts)
        if "s" in self.params:
            stats["start"] += posteriors[starts].sum(axis=0)
        if self._needs_sufficient_statistics_for_mean():
            stats["post"] += posteriors.sum(axis=0)
            stats["obs"] += posteriors.T @ X
        if self._needs_sufficient_statistics_for_covars():
            if self.covariance_type in ("spherical", "diag"):
                stats["obs**2"] += posteriors.T @ X**2
            else:
                for state in range(self.n_components):
                    stats["obs*obs.T"][state] += (X * posteriors[:, state, None]).T @ X
        return stats, log_prob


def _init_left_right(model, frames, lengths, settings, min_covar, random_state, jitter):
    """Bakis transitions and a flat segmentation of every sequence into the states."""
    from sklearn.cluster import KMeans

    n_states, n_mix = settings["n_states"], settings["n_mix"]
    covariance_type = settings["covariance_type"]
    n_features = frames.shape[1]
    state_of_frame = np.concatenate([(np.arange(n) * n_states) // n for n in lengths])
    overall_cov = np.atleast_2d(np.cov(frames.T)) if frames.shape[0] > 1 else np.eye(n_features)
    overall_cov = overall_cov + min_covar * np.eye(n_features)
    spread = np.sqrt(np.diag(overall_cov))

    means, covs = [], []
    for state in range(n_states):
        segment = frames[state_of_frame == state]
        if segment.shape[0] == 0:  # every sequence shorter than n_states
            segment = frames
        cov = (np.atleast_2d(np.cov(segment.T)) + min_covar * np.eye(n_features)
               if segment.shape[0] > n_features else overall_cov)
        covs.append(cov)
        if n_mix == 1:
            centres = segment.mean(axis=0, keepdims=True)
        elif segment.shape[0] >= n_mix:
            centres = KMeans(n_clusters=n_mix, n_init=1,
                             random_state=random_state).fit(segment).cluster_centers_
        else:
            centres = segment.mean(axis=0) + 0.1 * spread * random_state.standard_normal(
                (n_mix, n_features))
        if jitter:
            centres = centres + jitter * spread * random_state.standard_normal(centres.shape)
        means.append(centres)
    means = np.array(means)  # (n_states, n_mix, n_features)
    covs = np.array(covs)  # (n_states, n_features, n_features)

    model.n_features = n_features
    model.startprob_ = np.eye(n_states)[0]
    frames_per_state = np.mean(lengths) / n_states
    stay = float(np.clip(1.0 - 1.0 / max(frames_per_state, 1.0), 0.5, 0.95))
    transmat = np.eye(n_states) * stay + np.eye(n_states, k=1) * (1.0 - stay)
    transmat[-1, -1] = 1.0
    model.transmat_ = transmat
    diag = np.diagonal(covs, axis1=1, axis2=2)  # (n_states, n_features)
    if n_mix == 1:
        model.means_ = means[:, 0]
        model.covars_ = {"diag": diag, "spherical": diag.mean(axis=1), "full": covs,
                         "tied": overall_cov}[covariance_type]
    else:
        model.means_ = means
        model.weights_ = np.full((n_states, n_mix), 1.0 / n_mix)
        model.covars_ = {
            "diag": np.repeat(diag[:, None], n_mix, axis=1),
            "spherical": np.repeat(diag.mean(axis=1)[:, None], n_mix, axis=1),
            "full": np.repeat(covs[:, None], n_mix, axis=1),
            "tied": covs,
        }[covariance_type]


def _repair(model, min_covar):
    """Make a fitted model valid where Baum-Welch left harmless holes.

    A state with no expected outgoing transition (a row of zeros) gets a
    self-loop. A mixture component whose diagonal or spherical variance
    reached zero (hmmlearn's GMM update does not add ``min_covar``) is
    floored at ``min_covar``, as GaussianHMM does for its states.
    """
    transmat = model.transmat_
    dead = transmat.sum(axis=1) == 0
    if dead.any():
        transmat = transmat.copy()
        transmat[dead, dead] = 1.0
        model.transmat_ = transmat
    if hasattr(model, "weights_") and model.covariance_type in ("diag", "spherical"):
        covars = np.asarray(model.covars_)
        if np.any(covars < min_covar):
            model.covars_ = np.maximum(covars, min_covar)


def _degeneracy(model):
    """A description of what is wrong with a fitted model, or None."""
    history = list(model.monitor_.history)
    if history and not np.isfinite(history[-1]):
        return f"training log-likelihood is {history[-1]}"
    for name in ("startprob_", "transmat_", "means_", "covars_", "weights_"):
        if hasattr(model, name) and not np.all(np.isfinite(getattr(model, name))):
            return f"non-finite {name} (a state or component lost all its frames)"
    model._check()  # raises ValueError on invalid probabilities or covariances
    return None


def _bounds(lengths):
    """Start and end row of each sequence in the concatenated frames."""
    ends = np.cumsum(np.asarray(lengths, dtype=np.int64))
    return ends - lengths, ends


def _score_sequences(model, frames, lengths):
    """Log-likelihood of each sequence under one model (0 for empty sequences), from
    the sequences' concatenated ``frames`` and their ``lengths``.

    What ``model.score`` gives sequence by sequence, with the emission
    densities of all frames evaluated in one call (one Cholesky
    factorisation per state, not per state and sequence).
    """
    scores = np.zeros(len(lengths))
    if not frames.shape[0]:
        return scores
    with np.errstate(all="ignore"), threadpool_limits(limits=1):
        log_frameprob = model._compute_log_likelihood(frames)
        starts, ends = _bounds(lengths)
        for i in np.flatnonzero(ends > starts):
            scores[i], _ = _hmmc.forward_log(model.startprob_, model.transmat_,
                                             log_frameprob[starts[i]:ends[i]])
    return scores


def _label(label):
    """A class label as a plain Python value, so that messages show 'b', not np.str_('b')."""
    return label.item() if isinstance(label, np.generic) else label


def _listed(samples, shown=20) -> str:
    samples = [int(s) for s in samples]
    text = ", ".join(str(s) for s in samples[:shown])
    if len(samples) > shown:
        text += f", ... ({len(samples) - shown} more)"
    return f"[{text}]"

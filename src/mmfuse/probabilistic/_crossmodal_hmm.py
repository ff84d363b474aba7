"""P(X) P(Y | X) over sequences: an HMM on stream X whose hidden states also emit stream Y."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from hmmlearn.base import BaseHMM
from hmmlearn.hmm import GaussianHMM
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from mmfuse._config import resolve_verbose
from mmfuse.descriptors import DescriptorSet
from mmfuse.probabilistic._hmm import _quiet_hmmlearn

_LOG_2PI = np.log(2.0 * np.pi)


class CrossModalHMM(BaseEstimator):
    """A hidden Markov model of stream X whose hidden states also emit stream Y.

    Two synchronous streams, e.g. video frames ``X`` and audio frames ``Y``
    of one utterance, share a hidden state sequence ``z``::

        P(X, Y) = sum_z  P(z_1) prod_t P(z_t | z_{t-1})  P(x_t | z_t)  P(y_t | z_t)
                = P(X) P(Y | X)

    Fitting follows that factorisation. First ``P(X)``: a Gaussian HMM on
    ``X`` alone, by Baum-Welch (EM: the E-step computes the posterior of
    every state at every frame with the forward-backward algorithm, the
    M-step re-estimates start, transition and emission parameters from
    these posteriors; :class:`hmmlearn.hmm.GaussianHMM`). Then ``P(y | z)``:
    each state's emission of ``Y`` is estimated from the state posteriors
    ``gamma_t(k) = P(z_t = k | X)`` of ``X``, as posterior-weighted means and
    variances (Gaussian ``Y``) or posterior-weighted symbol counts
    (categorical ``Y``). The hidden states are therefore defined by ``X``;
    ``Y`` is read off them. Where states overlap in ``X`` these soft
    weights blur the emissions of ``Y`` towards each other, so (unless
    ``y_n_iter=0``) EM then refines the emissions of ``Y`` alone, with the
    posteriors ``P(z_t | X, Y)``, keeping the start, transition and X
    parameters fixed: this maximises ``log P(Y | X)``, the conditional
    likelihood, for the states that ``X`` defines.

    It then converts X into Y: ``P(y_t | X) = sum_k gamma_t(k) P(y_t | z_t = k)``
    (:meth:`predict` gives its mean or most probable symbol), and scores a
    pair: ``log P(X, Y)`` by the forward algorithm on the joint emissions
    (:meth:`score_samples`), ``log P(Y | X) = log P(X, Y) - log P(X)``
    (:meth:`conditional_log_likelihood`).

    Parameters
    ----------
    n_states : int, default=3
        Hidden states.
    covariance_type : {"diag", "full", "spherical", "tied"}, default="diag"
        Covariance of the Gaussian emissions of X (hmmlearn's).
    y_emission : {"auto", "gaussian", "categorical"}, default="auto"
        Model of Y given the state: a Gaussian with diagonal covariance per
        state, or a distribution over symbols. ``"auto"``: categorical when
        every Y sequence is 1-D with integer (or string) values.
    n_iter : int, default=100
        Maximum Baum-Welch iterations.
    tol : float, default=1e-3
        Convergence threshold on the gain in log-likelihood.
    n_init : int, default=3
        Baum-Welch runs from different random starts (hmmlearn draws the
        initial start and transition probabilities at random, and EM only
        finds a local optimum); the run with the highest log-likelihood of X
        is kept.
    min_covar : float, default=1e-3
        Floor on the variances of X's emissions.
    y_min_covar : float, default=1e-3
        Floor added to the variances of Y's Gaussian emissions.
    y_pseudo_count : float, default=0.01
        Added to every state's symbol count (categorical Y), so no symbol
        gets probability 0.
    y_n_iter : int, default=20
        EM iterations refining Y's emissions (0: keep the estimate from X's
        posteriors). Stops early when ``log P(X, Y)`` gains less than ``tol``.
    random_state : int, RandomState instance or None, default=None
        Seeds hmmlearn's k-means initialisation.
    verbose : int, bool or None, default=None
        2 and above let hmmlearn report every EM iteration (None: the global
        ``verbose``).

    Attributes
    ----------
    hmm_ : hmmlearn.hmm.GaussianHMM
        The fitted HMM of X.
    startprob_ : ndarray of shape (n_states,)
    transmat_ : ndarray of shape (n_states, n_states)
    means_ : ndarray of shape (n_states, n_features_x)
    covars_ : ndarray
        X's emission covariances, in hmmlearn's full form
        ``(n_states, n_features_x, n_features_x)``.
    y_means_ : ndarray of shape (n_states, n_features_y)
        Gaussian Y only.
    y_covars_ : ndarray of shape (n_states, n_features_y)
        Diagonal variances, Gaussian Y only.
    y_emissionprob_ : ndarray of shape (n_states, n_symbols)
        ``P(y = symbol | z = k)``, categorical Y only.
    y_symbols_ : ndarray
        The symbols, in ``y_emissionprob_`` column order (categorical Y).
    y_emission_ : str
        ``"gaussian"`` or ``"categorical"``.
    n_features_in_ : int
        Features per frame of X.
    converged_ : bool
        Whether Baum-Welch on X met ``tol``.
    n_iter_ : int
        Baum-Welch iterations on X.
    y_n_iter_ : int
        EM iterations run on Y's emissions.

    Examples
    --------
    >>> import numpy as np
    >>> from hmmlearn.hmm import GaussianHMM
    >>> from mmfuse.probabilistic import CrossModalHMM
    >>> truth = GaussianHMM(2, covariance_type="diag")
    >>> truth.startprob_ = np.array([0.5, 0.5])
    >>> truth.transmat_ = np.array([[0.9, 0.1], [0.1, 0.9]])
    >>> truth.means_ = np.array([[0.0], [4.0]])
    >>> truth.covars_ = np.array([[1.0], [1.0]])
    >>> rng = np.random.default_rng(0)
    >>> X, Y = [], []
    >>> for seed in range(20):
    ...     x, z = truth.sample(50, random_state=seed)
    ...     X.append(x)
    ...     Y.append(np.where(z == 0, rng.random(50) < 0.9, rng.random(50) < 0.2).astype(int))
    >>> model = CrossModalHMM(n_states=2, random_state=0).fit(X, Y)
    >>> model.y_emission_
    'categorical'
    >>> order = np.argsort(model.means_[:, 0])         # state with the low mean first
    >>> model.y_emissionprob_[order, 1].round(1)       # P(y = 1 | state)
    array([0.9, 0.2])
    >>> model.predict([np.array([[0.0], [4.0]])])[0]   # y predicted from x alone
    array([1, 0])
    """

    _parameter_constraints = {
        "n_states": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"diag", "full", "spherical", "tied"})],
        "y_emission": [StrOptions({"auto", "gaussian", "categorical"})],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "min_covar": [Interval(Real, 0, None, closed="neither")],
        "y_min_covar": [Interval(Real, 0, None, closed="neither")],
        "y_pseudo_count": [Interval(Real, 0, None, closed="left")],
        "y_n_iter": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose", None],
    }

    def __init__(self, n_states=3, *, covariance_type="diag", y_emission="auto", n_iter=100,
                 tol=1e-3, n_init=3, min_covar=1e-3, y_min_covar=1e-3, y_pseudo_count=0.01,
                 y_n_iter=20, random_state=None, verbose=None):
        self.n_states = n_states
        self.covariance_type = covariance_type
        self.y_emission = y_emission
        self.n_iter = n_iter
        self.tol = tol
        self.n_init = n_init
        self.min_covar = min_covar
        self.y_min_covar = y_min_covar
        self.y_pseudo_count = y_pseudo_count
        self.y_n_iter = y_n_iter
        self.random_state = random_state
        self.verbose = verbose

    # -- input -------------------------------------------------------------------------
    def _x_sequences(self, X, *, reset: bool) -> list[np.ndarray]:
        if isinstance(X, DescriptorSet):
            X = [X[i] for i in range(X.n_samples)]
        if isinstance(X, np.ndarray) and X.dtype != object:
            raise TypeError("CrossModalHMM: X must be a list of (n_frames, n_features) arrays "
                            "(one per sequence) or a DescriptorSet, got a single array; wrap "
                            "one sequence in a list")
        sequences = []
        for i, seq in enumerate(X):
            seq = np.asarray(seq, dtype=np.float64)
            if seq.ndim == 1:
                seq = seq.reshape(-1, 1)
            if seq.ndim != 2 or seq.shape[0] == 0:
                raise ValueError(f"CrossModalHMM: sequence {i} of X must be a non-empty "
                                 f"(n_frames, n_features) array, got shape {seq.shape}")
            if not np.all(np.isfinite(seq)):
                raise ValueError(f"CrossModalHMM: sequence {i} of X contains NaN or infinity")
            sequences.append(seq)
        if not sequences:
            raise ValueError("CrossModalHMM: X holds no sequence")
        dims = {s.shape[1] for s in sequences}
        expected = sequences[0].shape[1] if reset else self.n_features_in_
        bad = next((i for i, s in enumerate(sequences) if s.shape[1] != expected), None)
        if bad is not None or len(dims) > 1:
            bad = bad if bad is not None else 0
            raise ValueError(f"CrossModalHMM: sequence {bad} of X has {sequences[bad].shape[1]} "
                             f"features per frame, expected {expected}")
        if reset:
            self.n_features_in_ = expected
        return sequences

    def _y_sequences(self, Y, x_sequences, *, fitting: bool) -> list[np.ndarray]:
        if isinstance(Y, DescriptorSet):
            Y = [Y[i] for i in range(Y.n_samples)]
        Y = list(Y)
        if len(Y) != len(x_sequences):
            raise ValueError(f"CrossModalHMM: X has {len(x_sequences)} sequences but Y has "
                             f"{len(Y)}")
        raw = [np.asarray(y) for y in Y]
        for i, (x, y) in enumerate(zip(x_sequences, raw, strict=True)):
            if y.ndim == 0 or y.shape[0] != x.shape[0]:
                raise ValueError(f"CrossModalHMM: sequence {i}: X has {x.shape[0]} frames but Y "
                                 f"has {0 if y.ndim == 0 else y.shape[0]}; the streams must be "
                                 "synchronous (one Y frame per X frame)")
        if fitting:
            kind = self.y_emission
            if kind == "auto":
                kind = "categorical" if all(y.ndim == 1 and y.dtype.kind in "iubUSO"
                                            for y in raw) else "gaussian"
            self.y_emission_ = kind
        if self.y_emission_ == "categorical":
            out = []
            if fitting:
                self.y_symbols_ = np.unique(np.concatenate([y.ravel() for y in raw]))
            for i, y in enumerate(raw):
                if y.ndim != 1:
                    raise ValueError(f"CrossModalHMM: sequence {i} of Y must be 1-D symbols for "
                                     f"a categorical Y, got shape {y.shape}")
                codes = np.searchsorted(self.y_symbols_, y)
                codes = np.minimum(codes, len(self.y_symbols_) - 1)
                unknown = self.y_symbols_[codes] != y
                if np.any(unknown):
                    raise ValueError(f"CrossModalHMM: sequence {i} of Y holds symbol(s) "
                                     f"{np.unique(y[unknown]).tolist()} not seen in fit")
                out.append(codes.astype(np.float64).reshape(-1, 1))
            return out
        out = []
        for i, y in enumerate(raw):
            y = np.asarray(y, dtype=np.float64)
            y = y.reshape(-1, 1) if y.ndim == 1 else y
            if y.ndim != 2 or not np.all(np.isfinite(y)):
                raise ValueError(f"CrossModalHMM: sequence {i} of Y must be a finite "
                                 f"(n_frames, n_features) array, got shape {y.shape}")
            if not fitting and y.shape[1] != self.y_means_.shape[1]:
                raise ValueError(f"CrossModalHMM: sequence {i} of Y has {y.shape[1]} features "
                                 f"per frame, {self.y_means_.shape[1]} in fit")
            out.append(y)
        if fitting and len({y.shape[1] for y in out}) > 1:
            raise ValueError("CrossModalHMM: the Y sequences have different numbers of features")
        return out

    # -- fitting -----------------------------------------------------------------------
    def fit(self, X, Y):
        """Fit P(X) by Baum-Welch, then Y's emissions from X's state posteriors.

        Parameters
        ----------
        X : list of arrays of shape (n_frames_i, n_features_x), or DescriptorSet
            One sequence of X frames per sample.
        Y : list of arrays of shape (n_frames_i, n_features_y) or (n_frames_i,)
            The synchronous Y frames (float features, or symbols).

        Returns
        -------
        self : CrossModalHMM
        """
        self._validate_params()
        x_seqs = self._x_sequences(X, reset=True)
        y_seqs = self._y_sequences(Y, x_seqs, fitting=True)
        lengths = np.array([len(s) for s in x_seqs])
        frames = np.vstack(x_seqs)
        if frames.shape[0] < self.n_states:
            raise ValueError(f"CrossModalHMM: {frames.shape[0]} frames in all, fewer than "
                             f"n_states={self.n_states}")
        rng = check_random_state(self.random_state)
        best, best_score = None, -np.inf
        with _quiet_hmmlearn():
            for seed in rng.randint(np.iinfo(np.int32).max, size=self.n_init):
                hmm = GaussianHMM(n_components=self.n_states,
                                  covariance_type=self.covariance_type,
                                  min_covar=self.min_covar, n_iter=self.n_iter, tol=self.tol,
                                  random_state=int(seed),
                                  verbose=resolve_verbose(self.verbose) >= 2,
                                  implementation="log")
                hmm.fit(frames, lengths)
                score = hmm.score(frames, lengths)
                if best is None or score > best_score:
                    best, best_score = hmm, score
            hmm = best
            gamma = hmm.predict_proba(frames, lengths)
        self.hmm_ = hmm
        self.startprob_ = hmm.startprob_.copy()
        self.transmat_ = hmm.transmat_.copy()
        self.means_ = hmm.means_.copy()
        self.covars_ = hmm.covars_.copy()
        self.converged_ = bool(hmm.monitor_.converged)
        self.n_iter_ = int(hmm.monitor_.iter)
        y = np.vstack(y_seqs)
        self._fit_y_emission(gamma, y)
        # EM on Y's emissions only: posteriors given (X, Y), the rest fixed.
        pairs, previous = np.hstack([frames, y]), -np.inf
        self.y_n_iter_ = 0
        with _quiet_hmmlearn():
            for _ in range(self.y_n_iter):
                joint = _JointEmissionHMM(self)
                log_likelihood, gamma = joint.score_samples(pairs, lengths)
                self._fit_y_emission(gamma, y)
                self.y_n_iter_ += 1
                if log_likelihood - previous < self.tol:
                    break
                previous = log_likelihood
        return self

    def _fit_y_emission(self, gamma, y):
        """M-step for Y's emissions from state posteriors ``gamma`` (frames x states)."""
        if self.y_emission_ == "categorical":
            onehot = np.zeros((y.shape[0], len(self.y_symbols_)))
            onehot[np.arange(y.shape[0]), y[:, 0].astype(np.intp)] = 1.0
            counts = gamma.T @ onehot + self.y_pseudo_count
            self.y_emissionprob_ = counts / counts.sum(axis=1, keepdims=True)
        else:
            weight = np.maximum(gamma.sum(axis=0), np.finfo(float).tiny)[:, None]
            self.y_means_ = gamma.T @ y / weight
            second = gamma.T @ (y ** 2) / weight
            self.y_covars_ = np.maximum(second - self.y_means_ ** 2, 0.0) + self.y_min_covar

    # -- inference ---------------------------------------------------------------------
    def _y_log_likelihood(self, y: np.ndarray) -> np.ndarray:
        """log P(y_t | z_t = k), shape (n_frames, n_states)."""
        if self.y_emission_ == "categorical":
            return np.log(self.y_emissionprob_[:, y[:, 0].astype(np.intp)]).T
        diff = y[:, None, :] - self.y_means_[None]
        return -0.5 * (np.log(self.y_covars_).sum(axis=1)[None]
                       + (diff ** 2 / self.y_covars_[None]).sum(axis=2)
                       + y.shape[1] * _LOG_2PI)

    def _state_posteriors(self, x_seqs) -> list[np.ndarray]:
        with _quiet_hmmlearn():
            return [self.hmm_.predict_proba(x) for x in x_seqs]

    def predict_proba(self, X) -> list[np.ndarray]:
        """P(y_t | X) for every frame of every sequence (categorical Y).

        Parameters
        ----------
        X : list of arrays of shape (n_frames_i, n_features_x), or DescriptorSet

        Returns
        -------
        proba : list of ndarray of shape (n_frames_i, n_symbols)
            Columns in ``y_symbols_`` order.
        """
        check_is_fitted(self, "hmm_")
        if self.y_emission_ != "categorical":
            raise ValueError("CrossModalHMM: predict_proba needs a categorical Y; for a "
                             "Gaussian Y, predict gives E[y_t | X]")
        x_seqs = self._x_sequences(X, reset=False)
        return [g @ self.y_emissionprob_ for g in self._state_posteriors(x_seqs)]

    def predict(self, X) -> list[np.ndarray]:
        """Predict Y from X: the posterior mean ``E[y_t | X]`` or most probable symbol.

        Parameters
        ----------
        X : list of arrays of shape (n_frames_i, n_features_x), or DescriptorSet

        Returns
        -------
        Y_pred : list of ndarray
            ``(n_frames_i, n_features_y)`` for a Gaussian Y; ``(n_frames_i,)``
            symbols for a categorical Y.
        """
        check_is_fitted(self, "hmm_")
        if self.y_emission_ == "categorical":
            return [self.y_symbols_[np.argmax(p, axis=1)] for p in self.predict_proba(X)]
        x_seqs = self._x_sequences(X, reset=False)
        return [g @ self.y_means_ for g in self._state_posteriors(x_seqs)]

    def decode(self, X) -> list[np.ndarray]:
        """Most likely hidden-state path of each X sequence (Viterbi).

        Parameters
        ----------
        X : list of arrays of shape (n_frames_i, n_features_x), or DescriptorSet

        Returns
        -------
        paths : list of ndarray of int
        """
        check_is_fitted(self, "hmm_")
        with _quiet_hmmlearn():
            return [self.hmm_.decode(x)[1] for x in self._x_sequences(X, reset=False)]

    def score_samples(self, X, Y) -> np.ndarray:
        """Joint log-likelihood ``log P(X_i, Y_i)`` of each pair of sequences.

        Parameters
        ----------
        X : list of arrays of shape (n_frames_i, n_features_x), or DescriptorSet
        Y : list of arrays, synchronous with X

        Returns
        -------
        log_likelihood : ndarray of shape (n_sequences,)
        """
        check_is_fitted(self, "hmm_")
        x_seqs = self._x_sequences(X, reset=False)
        y_seqs = self._y_sequences(Y, x_seqs, fitting=False)
        joint = _JointEmissionHMM(self)
        with _quiet_hmmlearn():
            return np.array([joint.score(np.hstack([x, y]))
                             for x, y in zip(x_seqs, y_seqs, strict=True)])

    def score(self, X, Y) -> float:
        """Total joint log-likelihood ``sum_i log P(X_i, Y_i)``.

        Parameters
        ----------
        X : list of arrays, or DescriptorSet
        Y : list of arrays, synchronous with X

        Returns
        -------
        log_likelihood : float
        """
        return float(self.score_samples(X, Y).sum())

    def marginal_log_likelihood(self, X) -> np.ndarray:
        """``log P(X_i)`` of each X sequence (Y summed out).

        Parameters
        ----------
        X : list of arrays, or DescriptorSet

        Returns
        -------
        log_likelihood : ndarray of shape (n_sequences,)
        """
        check_is_fitted(self, "hmm_")
        with _quiet_hmmlearn():
            return np.array([self.hmm_.score(x) for x in self._x_sequences(X, reset=False)])

    def conditional_log_likelihood(self, X, Y) -> np.ndarray:
        """``log P(Y_i | X_i) = log P(X_i, Y_i) - log P(X_i)``: how well X explains Y.

        Parameters
        ----------
        X : list of arrays, or DescriptorSet
        Y : list of arrays, synchronous with X

        Returns
        -------
        log_likelihood : ndarray of shape (n_sequences,)
        """
        return self.score_samples(X, Y) - self.marginal_log_likelihood(X)

    def sample(self, n_frames, random_state=None):
        """Draw one synchronous pair of sequences from the model.

        Parameters
        ----------
        n_frames : int
        random_state : int, RandomState instance or None

        Returns
        -------
        X : ndarray of shape (n_frames, n_features_x)
        Y : ndarray of shape (n_frames, n_features_y) or (n_frames,)
        states : ndarray of shape (n_frames,)
        """
        check_is_fitted(self, "hmm_")
        rng = check_random_state(random_state)
        X, states = self.hmm_.sample(int(n_frames), random_state=rng)
        if self.y_emission_ == "categorical":
            cumulative = np.cumsum(self.y_emissionprob_[states], axis=1)
            draws = (cumulative < rng.random_sample((len(states), 1))).sum(axis=1)
            Y = self.y_symbols_[np.minimum(draws, len(self.y_symbols_) - 1)]
        else:
            Y = self.y_means_[states] + np.sqrt(self.y_covars_[states]) * rng.standard_normal(
                (len(states), self.y_means_.shape[1]))
        return X, Y, states

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


class _JointEmissionHMM(BaseHMM):
    """The fitted HMM with emissions ``P(x | z) P(y | z)``: only the emission model differs,
    so hmmlearn's forward algorithm scores ``[x, y]`` frames."""

    def __init__(self, owner: CrossModalHMM):
        super().__init__(n_components=owner.hmm_.n_components, implementation="log")
        self.owner = owner
        self.startprob_ = owner.hmm_.startprob_
        self.transmat_ = owner.hmm_.transmat_
        self.n_features = owner.n_features_in_

    def _compute_log_likelihood(self, X):
        d = self.owner.n_features_in_
        return (self.owner.hmm_._compute_log_likelihood(X[:, :d])
                + self.owner._y_log_likelihood(X[:, d:]))

"""sklearn's estimator checks for every fusion estimator over numeric input.

GaussianNB stands in for the usual LogisticRegression where the checks would
fit hundreds of models (it is ~20x cheaper to fit).

Modalities are column subsets of the numeric matrix (``[0]`` and ``slice(0, None)``
overlap on purpose so that the checks' one-feature inputs still work).
"""

from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mmfuse.fusion import (
    BlockNormalizer,
    CascadeFusionClassifier,
    EarlyFusion,
    HierarchicalFusionClassifier,
    KernelFusionClassifier,
    LateFusionClassifier,
    ProbabilityTransformer,
)

FIRST, ALL = [0], slice(0, None)

ESTIMATORS = [
    BlockNormalizer(norm="power"),
    EarlyFusion([("all", "passthrough", ALL)], missing="mean", add_indicator=True),
    EarlyFusion([("a", "passthrough", FIRST), ("b", StandardScaler(), ALL)],
                norm={"a": None, "b": "power"}, weights="balanced", missing="zero"),
    LateFusionClassifier([("a", GaussianNB(), FIRST), ("b", GaussianNB(), ALL)],
                         combine="product"),
    LateFusionClassifier([("a", GaussianNB(), FIRST), ("b", GaussianNB(), ALL)],
                         combine="stacking", final_estimator=GaussianNB(), cv=3),
    KernelFusionClassifier([("a", "passthrough", FIRST), ("b", MinMaxScaler(clip=True), ALL)],
                           kernel={"a": "rbf", "b": "chi2"}),
    KernelFusionClassifier([("a", "passthrough", FIRST), ("b", "passthrough", ALL)],
                           n_components=20, random_state=0),
    # The cheap stage reads every column: the cascade never reads the later modalities
    # of samples it decided early, so NaN checks must hit the first stage.
    CascadeFusionClassifier([("a", StandardScaler(), ALL), ("b", "passthrough", FIRST)],
                            estimator=GaussianNB(), norm=None, threshold=0.8),
    HierarchicalFusionClassifier(
        [("a", "passthrough", FIRST), ("b", StandardScaler(), ALL), ("c", "passthrough", [0, 1])],
        tree=({"fusion": "early", "children": ["a", "b"]}, "c"), estimator=GaussianNB(),
        norm=None, cv=3),
    ProbabilityTransformer(GaussianNB(), cv=3),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

"""scikit-learn's own conformance suite on FraudForestClassifier.

Every check runs. The few that the estimator fails by design are listed,
each with its reason, by ``FraudForestClassifier._sklearn_expected_failed_checks``
(scikit-learn marks them xfail, so one that starts passing is reported).
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fraud_engine import FraudForestClassifier


def expected_failed_checks(estimator):
    return estimator._sklearn_expected_failed_checks()


@parametrize_with_checks(
    [
        # The defaults users get.
        FraudForestClassifier(n_estimators=10),
        # Leaves of one row, as scikit-learn's forests grow by default: the
        # checks' small data sets then grow real trees.
        FraudForestClassifier(n_estimators=10, min_samples_leaf=1),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_scikit_learn_conformance(estimator, check):
    check(estimator)

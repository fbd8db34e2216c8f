"""Metrics of SPEC §8 against scikit-learn on random inputs."""

import numpy as np
import pytest
from scipy import special
from sklearn import metrics as sk

from iastp_tf.evaluation import metrics


def _random_scores(seed, videos=60, classes=7):
    rng = np.random.default_rng(seed)
    return rng.integers(0, classes, size=videos), rng.normal(size=(videos, classes))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top1_and_mean_class_accuracy_equal_sklearn(seed):
    labels, scores = _random_scores(seed)
    predictions = scores.argmax(axis=1)
    assert metrics.top_k_accuracy(labels, scores, 1) == pytest.approx(sk.accuracy_score(labels, predictions))
    assert metrics.mean_class_accuracy(labels, scores) == pytest.approx(
        sk.balanced_accuracy_score(labels, predictions)
    )


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_equals_sklearn(k):
    labels, scores = _random_scores(3)
    expected = sk.top_k_accuracy_score(labels, scores, k=k, labels=np.arange(scores.shape[1]))
    assert metrics.top_k_accuracy(labels, scores, k) == pytest.approx(expected)


def test_mean_class_accuracy_ignores_absent_classes():
    # Class 2 has no video: only classes 0 (1/2 right) and 1 (1/1 right) count.
    labels = np.array([0, 0, 1])
    scores = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]])
    assert metrics.mean_class_accuracy(labels, scores) == pytest.approx(0.75)


def test_confusion_matrix_rows_are_true_classes():
    matrix = metrics.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(matrix, sk.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], labels=[0, 1, 2]))


@pytest.mark.parametrize("seed", [0, 1])
def test_charades_map_and_wap_equal_sklearn_without_empty_classes(seed):
    rng = np.random.default_rng(seed)
    multi_hot = (rng.random((40, 9)) < 0.2).astype(int)
    multi_hot[:, [2, 6]] = 0  # classes with no positive are left out
    scores = rng.normal(size=multi_hot.shape)
    present = [c for c in range(9) if multi_hot[:, c].any()]
    aps = np.array([sk.average_precision_score(multi_hot[:, c], scores[:, c]) for c in present])
    positives = multi_hot[:, present].sum(axis=0)
    mean_ap, weighted_ap = metrics.charades_map(multi_hot, scores)
    assert mean_ap == pytest.approx(aps.mean())
    assert weighted_ap == pytest.approx(np.sum(aps * positives) / positives.sum())


def test_average_precision_with_ties_equals_sklearn():
    is_positive = np.array([1, 0, 1, 0, 0, 1, 1, 0])
    scores = np.array([0.5, 0.5, 0.2, 0.9, 0.2, 0.2, 0.7, 0.1])
    assert metrics.average_precision(is_positive, scores) == pytest.approx(
        sk.average_precision_score(is_positive, scores)
    )


def test_average_precision_hand_computed():
    # Ranking: +, -, +  -> precisions at the positives 1/1 and 2/3.
    assert metrics.average_precision([1, 0, 1], [0.9, 0.5, 0.1]) == pytest.approx((1 + 2 / 3) / 2)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="k must be"):
        metrics.top_k_accuracy([0], [[0.1, 0.2]], k=3)
    with pytest.raises(ValueError, match="one row per video"):
        metrics.top_k_accuracy([0, 1], [[0.1, 0.2]], k=1)
    with pytest.raises(ValueError, match="no positive"):
        metrics.charades_map(np.zeros((3, 2)), np.zeros((3, 2)))


def test_softmax_equals_scipy_even_for_large_logits():
    logits = np.array([[1000.0, 1001.0, 999.0], [-3.0, 0.5, 2.0]])
    np.testing.assert_allclose(metrics.softmax(logits), special.softmax(logits, axis=1), rtol=1e-12)
    np.testing.assert_allclose(metrics.softmax(logits[1]), special.softmax(logits[1]), rtol=1e-12)

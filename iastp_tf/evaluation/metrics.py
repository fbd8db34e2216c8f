"""Video-level metrics (paper §5, SPEC §5 and §8), on NumPy arrays.

* UCF101 / HMDB51 / Kinetics-400 report top-1 (and top-5) accuracy; the paper's
  per-class analysis uses mean class accuracy (the mean of per-class recalls,
  i.e. balanced accuracy) and the confusion matrix (Figure 5).
* Charades (Table 15) reports mAP and wAP: the average precision of each class
  (the area under its precision-recall step curve, as in the official Charades
  evaluation), averaged over classes, unweighted (mAP) or weighted by each
  class's number of positives (wAP). Classes with no positive video in the test
  set have no defined AP and are left out of both.

Shapes: ``labels`` int ``[V]``; ``scores`` float ``[V, N]`` (any monotone
score: logits or probabilities); ``multi_hot`` ``{0, 1}`` ``[V, N]``.
"""

import numpy as np


def softmax(scores, axis=-1) -> np.ndarray:
    """Softmax of logits along ``axis`` (``[V, N]`` -> probabilities ``[V, N]``), shifted by the max for stability."""
    scores = np.asarray(scores, np.float64)
    shifted = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _check_scores(labels, scores):
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [videos, classes], got shape {scores.shape}")
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(
            f"labels and scores must have one row per video, got {labels.shape[0]} "
            f"and {scores.shape[0]}"
        )
    return labels, scores


def top_k_accuracy(labels, scores, k=1) -> float:
    """Fraction of videos whose label is among the ``k`` highest scores.

    Ties are broken by class index (the lower index ranks first).

    Args:
      labels: int ``[V]`` true class per video.
      scores: float ``[V, N]``.
      k: how many top classes count as a hit.
    """
    labels, scores = _check_scores(labels, scores)
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k must be in [1, {scores.shape[1]}], got {k}")
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # [V, k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def confusion_matrix(labels, predictions, num_classes) -> np.ndarray:
    """Counts ``[num_classes, num_classes]``: row = true class, column = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_accuracy(labels, scores) -> np.ndarray:
    """Top-1 recall of each class ``[N]``; NaN for classes with no video."""
    labels, scores = _check_scores(labels, scores)
    matrix = confusion_matrix(labels, np.argmax(scores, axis=1), scores.shape[1])
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)


def mean_class_accuracy(labels, scores) -> float:
    """Mean over the classes present in ``labels`` of their top-1 recall."""
    return float(np.nanmean(per_class_accuracy(labels, scores)))


def average_precision(is_positive, scores) -> float:
    """Average precision of one class: ``Σ_n (R_n − R_{n−1}) P_n``.

    Thresholds run over the distinct scores, highest first, so tied videos
    enter together. NaN when there is no positive.

    Args:
      is_positive: ``{0, 1}`` ``[V]``.
      scores: float ``[V]``.
    """
    is_positive = np.asarray(is_positive).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    num_positives = is_positive.sum()
    if num_positives == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    true_positives = np.cumsum(is_positive[order])
    # Last index of each group of equal scores: where the next score differs.
    group_ends = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(scores) - 1]
    true_positives = true_positives[group_ends]
    precision = true_positives / (group_ends + 1)
    recall = true_positives / num_positives
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def charades_map(multi_hot, scores) -> tuple[float, float]:
    """Charades mAP and wAP over the classes with at least one positive.

    Args:
      multi_hot: ``{0, 1}`` ``[V, N]`` labels.
      scores: float ``[V, N]``.

    Returns:
      ``(mAP, wAP)``: the unweighted mean of per-class AP and the mean weighted
      by each class's number of positive videos.
    """
    multi_hot = np.asarray(multi_hot)
    scores = np.asarray(scores)
    if multi_hot.shape != scores.shape or multi_hot.ndim != 2:
        raise ValueError(
            f"multi_hot and scores must both be [videos, classes], got {multi_hot.shape} "
            f"and {scores.shape}"
        )
    positives = multi_hot.sum(axis=0)
    present = np.nonzero(positives > 0)[0]
    if present.size == 0:
        raise ValueError("multi_hot has no positive label in any class")
    aps = np.array([average_precision(multi_hot[:, c], scores[:, c]) for c in present])
    return float(aps.mean()), float(np.sum(aps * positives[present]) / positives[present].sum())


def summarize(labels, scores) -> dict:
    """All metrics that apply: single-label ``labels [V]`` or multi-hot ``[V, N]``."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        mean_ap, weighted_ap = charades_map(labels, scores)
        return {"mAP": mean_ap, "wAP": weighted_ap, "num_videos": int(labels.shape[0])}
    num_classes = np.asarray(scores).shape[1]
    summary = {
        "top1": top_k_accuracy(labels, scores, 1),
        "mean_class_accuracy": mean_class_accuracy(labels, scores),
        "num_videos": int(labels.shape[0]),
    }
    if num_classes >= 5:
        summary["top5"] = top_k_accuracy(labels, scores, 5)
    return summary

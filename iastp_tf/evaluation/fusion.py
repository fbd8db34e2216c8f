"""Weighted late fusion of per-video scores (paper §5.5, Tables 4, 9, 11-13; SPEC §5).

The two-stream networks are fused late: each stream's scores (raw logits
averaged over the views of a video) are summed with one weight per stream. Any
number of streams fuses the same way: RGB, flow, motion-compensated flow, and
external iDT scores read from a CSV (Table 13). Weights are either given (TSN
uses RGB 1 : flow 1.5) or searched on a held-out split: a grid over every
stream's weight except the first, which stays 1, keeping the combination with
the best top-1 (mAP for multi-label scores) on that split.
"""

import itertools
import json
import os

import gin
import numpy as np

from iastp_tf.evaluation import metrics
from iastp_tf.evaluation.scores import VideoScores, load_scores, save_scores

NORMALIZATIONS = ("none", "softmax")
DEFAULT_WEIGHT_GRID = tuple(np.round(np.arange(0.0, 3.01, 0.25), 2))


def _normalize(scores, normalization):
    if normalization == "none":
        return scores
    return metrics.softmax(scores, axis=1)


def align(score_sets) -> list[VideoScores]:
    """Restricts every set to the videos of the first, in its order, with its labels.

    The first set must carry labels (an ``.npz`` from evaluation); the others
    may be external scores without labels. Class names must agree.
    """
    if not score_sets:
        raise ValueError("score_sets must hold at least one set of scores")
    reference = score_sets[0]
    if reference.labels is None:
        raise ValueError("the first scores must carry labels (an evaluation .npz, not a CSV)")
    for other in score_sets[1:]:
        if list(other.class_names) != list(reference.class_names):
            raise ValueError("every scores file must list the same class names in the same order")
    aligned = [other.select(reference.video_ids) for other in score_sets]
    return [
        VideoScores(s.video_ids, reference.labels, s.scores, s.class_names) for s in aligned
    ]


def fuse_scores(score_sets, weights, normalization="none") -> VideoScores:
    """``Σ_i weights[i] · normalize(scores_i)`` over aligned score sets.

    Args:
      score_sets: list of :class:`VideoScores`, the first with labels.
      weights: one float per set.
      normalization: ``"none"`` (raw averaged logits, TSN) or ``"softmax"``
        (each set's scores turned into probabilities first).
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if len(weights) != len(score_sets):
        raise ValueError(f"weights must have one entry per scores set, got {len(weights)} for {len(score_sets)}")
    aligned = align(score_sets)
    fused = sum(
        float(w) * _normalize(s.scores.astype(np.float64), normalization)
        for w, s in zip(weights, aligned)
    )
    reference = aligned[0]
    return VideoScores(reference.video_ids, reference.labels, fused.astype(np.float32), reference.class_names)


def _headline(scores: VideoScores) -> float:
    if scores.multi_label:
        return metrics.charades_map(scores.labels, scores.scores)[0]
    return metrics.top_k_accuracy(scores.labels, scores.scores, 1)


def search_weights(score_sets, weight_grid=DEFAULT_WEIGHT_GRID, normalization="none") -> tuple[float, ...]:
    """The weights (first fixed at 1) that maximise top-1 (or mAP) of the fusion.

    Ties keep the first combination in grid order, so smaller weights win.
    """
    aligned = align(score_sets)
    best_weights, best_value = None, -np.inf
    for rest in itertools.product(weight_grid, repeat=len(aligned) - 1):
        weights = (1.0, *map(float, rest))
        value = _headline(fuse_scores(aligned, weights, normalization))
        if value > best_value:
            best_weights, best_value = weights, value
    return best_weights


@gin.configurable
def fuse(
    workdir=gin.REQUIRED,
    score_files=gin.REQUIRED,
    weights=None,
    search_score_files=None,
    weight_grid=DEFAULT_WEIGHT_GRID,
    normalization="none",
) -> dict:
    """Fuses score files and writes ``fused_scores.npz`` and ``fusion.json`` to ``workdir``.

    Args:
      workdir: output folder.
      score_files: paths of ``.npz`` (evaluation) or ``.csv`` (external) scores
        on the test split; the first must be an ``.npz``.
      weights: one weight per file; ``None`` searches them on
        ``search_score_files`` (the same streams on a held-out split), or uses
        equal weights when that is ``None`` too.
      search_score_files: held-out scores, one per entry of ``score_files``.
      weight_grid: candidate weights of the search.
      normalization: see :func:`fuse_scores`.

    Returns:
      The summary written to ``fusion.json``: weights, how they were chosen,
      and the metrics of every input and of the fusion.
    """
    score_sets = [load_scores(path) for path in score_files]
    if weights is None and search_score_files is not None:
        if len(search_score_files) != len(score_files):
            raise ValueError("search_score_files must have one entry per entry of score_files")
        weights = search_weights([load_scores(p) for p in search_score_files], weight_grid, normalization)
        chosen_by = "search on " + ", ".join(map(str, search_score_files))
    elif weights is None:
        weights, chosen_by = (1.0,) * len(score_files), "equal"
    else:
        chosen_by = "given"
    fused = fuse_scores(score_sets, weights, normalization)
    os.makedirs(workdir, exist_ok=True)
    save_scores(os.path.join(workdir, "fused_scores.npz"), fused.video_ids, fused.labels, fused.scores, fused.class_names)
    summary = {
        "weights": [float(w) for w in weights],
        "weights_chosen_by": chosen_by,
        "normalization": normalization,
        "inputs": {
            str(path): metrics.summarize(s.labels, s.scores)
            for path, s in zip(score_files, align(score_sets))
        },
        "fused": metrics.summarize(fused.labels, fused.scores),
    }
    with open(os.path.join(workdir, "fusion.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary

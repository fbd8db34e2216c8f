"""Two score files of the same test videos, aligned for comparison (Fig. 5, Tables 7/8).

Score files are the ``.npz`` files of :mod:`iastp_tf.evaluation.scores`; the
comparisons need the same videos, labels and classes in both, in one order.
"""

import dataclasses

import numpy as np

from iastp_tf.evaluation.scores import VideoScores, load_scores


@dataclasses.dataclass(frozen=True)
class ScorePair:
    """Scores of one test set from two models, row ``i`` the same video in both.

    Attributes:
      labels: int ``[V]`` true classes.
      before: float ``[V, N]`` scores of the reference model (e.g. without attention).
      after: float ``[V, N]`` scores of the compared model (e.g. with attention).
      class_names: str ``[N]``.
    """

    labels: np.ndarray
    before: np.ndarray
    after: np.ndarray
    class_names: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def pair_scores(before: VideoScores, after: VideoScores) -> ScorePair:
    """Aligns ``after`` to ``before``'s video order; ValueError if they do not match."""
    if before.labels is None or after.labels is None:
        raise ValueError("both score files must carry labels")
    if before.multi_label or after.multi_label:
        raise ValueError("per-class accuracy and confusion need single-label score files")
    if list(before.class_names) != list(after.class_names):
        raise ValueError("the two score files have different class_names")
    extra = set(after.video_ids) - set(before.video_ids)
    if extra or len(after.video_ids) != len(before.video_ids):
        raise ValueError(
            f"the two score files must hold the same videos; {len(extra)} only in the second, "
            f"{len(before.video_ids)} vs {len(after.video_ids)} in all"
        )
    after = after.select(before.video_ids)
    if not np.array_equal(before.labels, after.labels):
        raise ValueError("the two score files give different labels for the same videos")
    return ScorePair(
        labels=before.labels.astype(np.int64),
        before=before.scores,
        after=after.scores,
        class_names=before.class_names,
    )


def load_pair(before_path, after_path) -> ScorePair:
    """Loads and aligns two score files (see :func:`pair_scores`)."""
    return pair_scores(load_scores(before_path), load_scores(after_path))

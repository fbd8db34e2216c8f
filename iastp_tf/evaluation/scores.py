"""Per-video score files shared by evaluation, fusion and analysis (SPEC §5).

A scores file is an ``.npz`` with

* ``video_ids``: str ``[V]``,
* ``labels``: int64 ``[V]``, or ``{0, 1}`` multi-hot ``[V, N]`` for Charades,
* ``scores``: float32 ``[V, N]``, raw logits averaged over the views of a video,
* ``class_names``: str ``[N]``.

External scores (e.g. the iDT + SVM scores of paper Table 13) come as a CSV
with a header ``video_id,<class name>,...`` and one row of N scores per video;
they carry no labels, which fusion takes from the other files.
"""

import csv
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class VideoScores:
    """Scores of one stream on one split; see the module docstring for shapes."""

    video_ids: np.ndarray
    labels: np.ndarray | None
    scores: np.ndarray
    class_names: np.ndarray

    def __post_init__(self):
        if self.scores.ndim != 2:
            raise ValueError(f"scores must be [videos, classes], got shape {self.scores.shape}")
        if len(self.video_ids) != self.scores.shape[0]:
            raise ValueError(
                f"video_ids has {len(self.video_ids)} entries for {self.scores.shape[0]} score rows"
            )
        if len(self.class_names) != self.scores.shape[1]:
            raise ValueError(
                f"class_names has {len(self.class_names)} entries for {self.scores.shape[1]} classes"
            )

    @property
    def multi_label(self) -> bool:
        return self.labels is not None and self.labels.ndim == 2

    def select(self, video_ids) -> "VideoScores":
        """The rows of ``video_ids``, in that order; ValueError if any is missing."""
        row_of = {video_id: row for row, video_id in enumerate(self.video_ids)}
        missing = [video_id for video_id in video_ids if video_id not in row_of]
        if missing:
            raise ValueError(f"video_ids not in these scores: {missing[:5]} ({len(missing)} in all)")
        rows = np.array([row_of[video_id] for video_id in video_ids], dtype=np.int64)
        return VideoScores(
            video_ids=np.asarray(video_ids),
            labels=None if self.labels is None else self.labels[rows],
            scores=self.scores[rows],
            class_names=self.class_names,
        )


def save_scores(path, video_ids, labels, scores, class_names) -> None:
    """Writes a scores ``.npz`` (see the module docstring)."""
    scores = VideoScores(
        video_ids=np.asarray(video_ids, dtype=str),
        labels=np.asarray(labels, dtype=np.int64),
        scores=np.asarray(scores, dtype=np.float32),
        class_names=np.asarray(class_names, dtype=str),
    )
    with open(path, "wb") as f:
        np.savez(f, **dataclasses.asdict(scores))


def load_scores(path) -> VideoScores:
    """Reads a scores ``.npz`` written by :func:`save_scores`, or a CSV of external scores."""
    if str(path).endswith(".csv"):
        return load_scores_csv(path)
    with np.load(path) as data:
        return VideoScores(
            video_ids=data["video_ids"].astype(str),
            labels=data["labels"],
            scores=data["scores"].astype(np.float32),
            class_names=data["class_names"].astype(str),
        )


def load_scores_csv(path) -> VideoScores:
    """Reads external scores: header ``video_id,<class names>``, one row per video."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][0] != "video_id":
        raise ValueError(f"{path}: the first row must be 'video_id,<class name>,...'")
    header, body = rows[0], [row for row in rows[1:] if row]
    return VideoScores(
        video_ids=np.array([row[0] for row in body], dtype=str),
        labels=None,
        scores=np.array([[float(v) for v in row[1:]] for row in body], dtype=np.float32).reshape(
            len(body), len(header) - 1
        ),
        class_names=np.array(header[1:], dtype=str),
    )

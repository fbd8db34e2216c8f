"""Results over the three official splits (paper Tables 12 and 13: "over 3 splits").

UCF101 and HMDB51 results in Tables 12/13 are means over the three official
train/test splits. Each split is trained, evaluated (and, for two-stream rows,
fused) on its own; this module reads each split's score files, fuses them
with the given weights when there are several streams
(:func:`iastp_tf.evaluation.fusion.fuse_scores`, the same fusion as
``experiments/fuse.py``), and reports every split's metrics and their
unweighted mean over the splits (the paper's "mean of 3 splits", not a
pooled accuracy over all test videos).
"""

import dataclasses

import numpy as np

from iastp_tf.evaluation import fusion, metrics
from iastp_tf.evaluation.scores import load_scores

SPLIT_FIELD = "{split}"
OFFICIAL_SPLITS = (1, 2, 3)


@dataclasses.dataclass(frozen=True)
class SplitResults:
    """Per-split metrics and their mean.

    Attributes:
      per_split: ``{split: metrics.summarize(...) of that split}``.
      mean: ``{metric: mean over the splits}`` for every metric all splits have
        (``num_videos`` is the total).
      files: ``{split: [score file, ...]}`` that were read.
    """

    per_split: dict
    mean: dict
    files: dict

    def markdown(self) -> str:
        """A table with one row per split and one for the mean (percentages)."""
        names = [name for name in ("top1", "top5", "mean_class_accuracy", "mAP", "wAP") if name in self.mean]
        lines = ["| split | " + " | ".join(names) + " | videos |", "|---" * (len(names) + 2) + "|"]
        for split, summary in self.per_split.items():
            cells = [f"{100 * summary[name]:.2f}" for name in names]
            lines.append(f"| {split} | " + " | ".join(cells) + f" | {summary['num_videos']} |")
        cells = [f"**{100 * self.mean[name]:.2f}**" for name in names]
        lines.append("| mean | " + " | ".join(cells) + f" | {self.mean['num_videos']} |")
        return "\n".join(lines)


def split_files(patterns, splits=OFFICIAL_SPLITS) -> dict:
    """``{split: [pattern with {split} replaced, ...]}``.

    Raises:
      ValueError: a pattern without ``{split}`` (every split would read the same file).
    """
    for pattern in patterns:
        if SPLIT_FIELD not in pattern:
            raise ValueError(f"score file pattern {pattern!r} has no {SPLIT_FIELD} field")
    return {split: [pattern.replace(SPLIT_FIELD, str(split)) for pattern in patterns] for split in splits}


def split_means(patterns, weights=None, splits=OFFICIAL_SPLITS, normalization="none") -> SplitResults:
    """Metrics of each split's (fused) scores and their mean over the splits.

    Args:
      patterns: one path per stream with a ``{split}`` field, e.g.
        ``runs/ucf101_split{split}/table4_irv2_rgb_both/eval_test/scores.npz``;
        the first must be an evaluation ``.npz`` (it carries the labels), the
        others may be external ``.csv`` scores (iDT).
      weights: one fusion weight per pattern (TSN: RGB 1, flow 1.5); ``None``
        with one pattern, required with several.
      splits: the split numbers.
      normalization: ``"none"`` or ``"softmax"`` (see :func:`fusion.fuse_scores`).

    Raises:
      ValueError: bad arguments, or a split's files disagree (class names).
      FileNotFoundError: a score file is missing (its path is named).
    """
    if not patterns:
        raise ValueError("give at least one score file pattern")
    if weights is None:
        if len(patterns) > 1:
            raise ValueError(f"{len(patterns)} streams need one fusion weight each (e.g. 1,1.5 for RGB, flow)")
        weights = (1.0,)
    if len(weights) != len(patterns):
        raise ValueError(f"got {len(weights)} weights for {len(patterns)} score file patterns")
    if not splits:
        raise ValueError("splits must not be empty")
    files = split_files(patterns, splits)
    per_split = {}
    for split, paths in files.items():
        score_sets = []
        for path in paths:
            try:
                score_sets.append(load_scores(path))
            except FileNotFoundError as error:
                raise FileNotFoundError(f"split {split}: no score file {path!r} (evaluate that run first)") from error
        fused = fusion.fuse_scores(score_sets, weights, normalization)
        per_split[split] = metrics.summarize(fused.labels, fused.scores)
    shared = set.intersection(*(set(summary) for summary in per_split.values())) - {"num_videos"}
    mean = {name: float(np.mean([summary[name] for summary in per_split.values()])) for name in sorted(shared)}
    mean["num_videos"] = int(sum(summary["num_videos"] for summary in per_split.values()))
    return SplitResults(per_split, mean, files)

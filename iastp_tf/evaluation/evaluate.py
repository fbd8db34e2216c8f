"""Video-level evaluation (paper §5: K = 25 frames × crops at test; SPEC §5).

The test input yields ``(frames [B, V, K, S, S, C], labels, media_ids)`` with V
views per video (crops × clips); the views become batch entries
(``[B·V, K, S, S, C]``), the model gives logits per view, and the logits are
averaged over the V views of each video (TSN/TSM test protocol). The scores
file, a JSON summary (SPEC §8 metrics) and the confusion matrix are written by
the gin entry :func:`evaluate`, run by ``experiments/evaluate.py``. It scores
the final weights by default (as TSN and the paper report), checks that the
records hold the classes the run was trained on, and refuses scores that are
not finite (a diverged run).
"""

import csv
import json
import os

import gin
import numpy as np
import tensorflow as tf
from absl import logging

from iastp_tf import runs
from iastp_tf.data.dataset_info import read_dataset_info
from iastp_tf.evaluation import metrics
from iastp_tf.evaluation.scores import save_scores


def _merge_views(frames):
    """``[B, V, K, ...]`` -> ``[B·V, K, ...]`` (a tensor or a dict of them)."""
    if isinstance(frames, dict):
        return {name: _merge_views(value) for name, value in frames.items()}
    shape = tf.shape(frames)
    return tf.reshape(frames, tf.concat([[shape[0] * shape[1]], shape[2:]], 0))  # [B·V, K, S, S, C]


def _views(frames):
    first = next(iter(frames.values())) if isinstance(frames, dict) else frames
    return tf.shape(first)[0], tf.shape(first)[1]


def evaluate_model(model, dataset, num_videos=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores every video of a test dataset.

    Args:
      model: frames ``[N, K, S, S, C]`` (or a dict of them) -> logits ``[N, C_out]``.
      dataset: batches ``(frames [B, V, K, S, S, C], labels, media_ids [B])``.
      num_videos: the dataset's videos, when known: progress is logged at
        every tenth of them.

    Returns:
      ``(video_ids str [V_total], labels, scores float32 [V_total, C_out])``:
      labels int64 ``[V_total]`` or multi-hot ``[V_total, C_out]``, scores the
      logits averaged over each video's views.
    """

    @tf.function(reduce_retracing=True)
    def video_scores(frames):
        batch, views = _views(frames)
        logits = tf.cast(model(_merge_views(frames), training=False), tf.float32)  # [B·V, N]
        return tf.reduce_mean(tf.reshape(logits, [batch, views, -1]), axis=1)  # [B, N]

    ids, labels, scores = [], [], []
    report_every = max(1, (num_videos or 0) // 10)
    for frames, batch_labels, media_ids in dataset:
        scores.append(video_scores(frames).numpy())
        labels.append(batch_labels.numpy())
        done = len(ids)
        ids.extend(media_id.decode() for media_id in media_ids.numpy())
        if num_videos and (len(ids) // report_every > done // report_every or len(ids) == num_videos):
            logging.info("scored %d/%d videos", len(ids), num_videos)
    if not ids:
        raise ValueError("dataset yielded no videos")
    labels = np.concatenate(labels)
    labels = labels.astype(np.int64) if labels.ndim == 1 else (labels > 0.5).astype(np.int64)
    return np.asarray(ids), labels, np.concatenate(scores).astype(np.float32)


def headline(summary) -> float:
    """The number a run is judged by: top-1, or mAP for multi-label data."""
    return summary["mAP"] if "mAP" in summary else summary["top1"]


@gin.configurable
def validation_metrics(model, data_dir, split, dataset_fn, batch_size) -> dict:
    """Metrics of ``model`` on ``split`` (test-time views, gin scope ``eval``), plus ``headline``.

    The validation function of training (``train.validation_fn = @validation_metrics``).
    """
    with gin.config_scope("eval"):
        dataset = dataset_fn(data_dir=data_dir, split=split, batch_size=batch_size, training=False)
    _, labels, scores = evaluate_model(model, dataset)
    summary = metrics.summarize(labels, scores)
    return {**summary, "headline": headline(summary)}


def write_confusion_matrix(path, labels, scores, class_names) -> np.ndarray:
    """Writes the confusion matrix (rows true, columns predicted) as CSV with class names."""
    matrix = metrics.confusion_matrix(labels, np.argmax(scores, axis=1), len(class_names))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true\\predicted", *class_names])
        for name, row in zip(class_names, matrix):
            writer.writerow([name, *row.tolist()])
    return matrix


def check_finite_scores(video_ids, scores, weights) -> None:
    """ValueError naming the videos whose scores are NaN or infinite (the weights diverged)."""
    bad = ~np.all(np.isfinite(scores), axis=1)
    if bad.any():
        raise ValueError(
            f"the scores of {int(bad.sum())} of {len(scores)} videos are not finite (first: "
            f"{video_ids[np.argmax(bad)]!r}); the weights {weights!r} are unusable (the run diverged): "
            "train again with a lower learning rate"
        )


@gin.configurable
def evaluate(
    workdir=gin.REQUIRED,
    data_dir=gin.REQUIRED,
    model_fn=gin.REQUIRED,
    dataset_fn=gin.REQUIRED,
    split="test",
    checkpoint="last",
    batch_size=4,
    output_dir=None,
    dataset_info=None,
) -> dict:
    """Evaluates a trained workdir and writes scores, summary and confusion matrix.

    Args:
      workdir: the training run's folder (weights and ``run.json`` are read from it).
      data_dir: records folder with ``dataset.json``.
      dataset_info: stands in for ``dataset.json`` (CIFAR-100).
      model_fn: the same gin-configured builder as training.
      dataset_fn: ``make_dataset``; built in gin scope ``eval`` with
        ``training=False`` (so ``eval/make_dataset.num_segments = 25`` etc.).
      split: split to score.
      checkpoint: ``"last"`` (the final weights, as the paper reports),
        ``"best"`` or a weights file.
      batch_size: videos per batch (each has V views of K frames).
      output_dir: where outputs go; ``None`` for ``<workdir>/eval_<split>``.

    Returns:
      The summary written to ``summary.json``.

    Raises:
      ValueError: the records' classes are not the run's, the weights are
        missing or unreadable, or the scores are not finite.
    """
    metadata = read_dataset_info(data_dir, dataset_info)
    runs.check_class_names(runs.read_run_info(workdir), metadata, data_dir)
    if split not in metadata["splits"]:
        raise ValueError(f"split {split!r} is not among the dataset's splits {sorted(metadata['splits'])}")
    model = runs.build_model(model_fn, metadata)
    weights = runs.weights_path(workdir, checkpoint)
    runs.load_weights(model, weights)
    with gin.config_scope("eval"):
        dataset = dataset_fn(data_dir=data_dir, split=split, batch_size=batch_size, training=False)
    video_ids, labels, scores = evaluate_model(model, dataset, num_videos=metadata["splits"][split])
    check_finite_scores(video_ids, scores, weights)

    output_dir = output_dir or os.path.join(workdir, f"eval_{split}")
    os.makedirs(output_dir, exist_ok=True)
    class_names = metadata["class_names"]
    save_scores(os.path.join(output_dir, "scores.npz"), video_ids, labels, scores, class_names)
    summary = {
        **metrics.summarize(labels, scores),
        "split": split,
        "weights": weights,
        "data_dir": data_dir,
    }
    if labels.ndim == 1:
        write_confusion_matrix(os.path.join(output_dir, "confusion_matrix.csv"), labels, scores, class_names)
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    runs.write_operative_config(output_dir)
    return summary

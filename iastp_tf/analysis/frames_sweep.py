"""Accuracy against the number of frames sampled at test time (paper Fig. 4(B), SPEC §7).

The attention layer takes any number K of frames, so one trained model is
evaluated once per K (the paper: K = 1, 5, ..., 30; here every K in 1..30 by
default), each time with K TSN test segments per video (``make_dataset(...,
training=False, num_segments=K)``) and the same video-level metrics as
``experiments/evaluate.py``. The result is a CSV with one row per K and a line
plot.
"""

import csv
import dataclasses

import gin

from iastp_tf.analysis import plotting
from iastp_tf.data.pipeline import make_dataset
from iastp_tf.evaluation import metrics
from iastp_tf.evaluation.evaluate import evaluate_model

DEFAULT_FRAME_COUNTS = tuple(range(1, 31))


@dataclasses.dataclass(frozen=True)
class SweepRow:
    """Video-level metrics at K test frames (fractions in 0..1; NaN where not defined)."""

    frames: int
    videos: int
    top1: float
    top5: float
    mean_class_accuracy: float


def frames_sweep(model, dataset_for_frames, frame_counts=DEFAULT_FRAME_COUNTS) -> list[SweepRow]:
    """Evaluates ``model`` once per frame count.

    Args:
      model: frames ``[N, K, S, S, C]`` -> logits ``[N, num_classes]``, K free.
      dataset_for_frames: ``K -> tf.data.Dataset`` of test batches
        ``(frames [B, V, K, S, S, C], labels [B], media_ids [B])``.
      frame_counts: the K values, each >= 1.

    Returns:
      One :class:`SweepRow` per K, in the order given.
    """
    frame_counts = [int(k) for k in frame_counts]
    if not frame_counts or min(frame_counts) < 1:
        raise ValueError(f"frame_counts must be a non-empty list of K >= 1, got {frame_counts}")
    rows = []
    for frames in frame_counts:
        _, labels, scores = evaluate_model(model, dataset_for_frames(frames))
        if labels.ndim != 1:
            raise ValueError("the frames sweep reports top-1 accuracy and needs single-label data")
        summary = metrics.summarize(labels, scores)
        rows.append(
            SweepRow(
                frames=frames,
                videos=summary["num_videos"],
                top1=summary["top1"],
                top5=summary.get("top5", float("nan")),
                mean_class_accuracy=summary["mean_class_accuracy"],
            )
        )
    return rows


def records_dataset_factory(data_dir, split="test", batch_size=4, **dataset_kwargs):
    """``K -> make_dataset(data_dir, split, training=False, num_segments=K, ...)``.

    The datasets are built in gin scope ``eval``, so the bindings a run uses
    for evaluation (modality, backbone, crops, ...) apply; ``num_segments`` is
    always K.
    """

    def dataset_for_frames(frames):
        with gin.config_scope("eval"):
            return make_dataset(
                data_dir=data_dir,
                split=split,
                batch_size=batch_size,
                training=False,
                num_segments=frames,
                **dataset_kwargs,
            )

    return dataset_for_frames


def write_sweep_csv(rows, path) -> None:
    """``frames,videos,top1,top5,mean_class_accuracy``, one row per K (fractions)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([field.name for field in dataclasses.fields(SweepRow)])
        for row in rows:
            writer.writerow(
                [row.frames, row.videos, f"{row.top1:.6f}", f"{row.top5:.6f}", f"{row.mean_class_accuracy:.6f}"]
            )


def plot_sweep(rows, path, title="Accuracy vs. frames at test time (paper Fig. 4B)"):
    """Top-1 (and mean class) accuracy in % against K; returns the PNG's ``(width, height)``."""
    figure = plotting.new_figure(7.0, 4.5)
    axes = figure.add_subplot()
    frames = [row.frames for row in rows]
    axes.plot(frames, [100 * row.top1 for row in rows], marker="o", label="top-1")
    axes.plot(
        frames, [100 * row.mean_class_accuracy for row in rows], marker=".", linestyle="--",
        label="mean class accuracy",
    )
    best = max(rows, key=lambda row: row.top1)
    axes.plot(best.frames, 100 * best.top1, marker="*", markersize=14, color="tab:red", linestyle="none",
              label=f"best top-1: {100 * best.top1:.1f}% at K={best.frames}")
    axes.set_xlabel("frames per video at test time (K)")
    axes.set_ylabel("accuracy (%)")
    axes.set_xticks(frames if len(frames) <= 16 else frames[::2])
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    axes.set_title(f"{title}\n{rows[0].videos} test videos", fontsize=10)
    return plotting.save_png(figure, path)


def write_frames_sweep(
    model, data_dir, output_prefix, frame_counts=DEFAULT_FRAME_COUNTS, split="test", batch_size=4,
    **dataset_kwargs,
) -> plotting.WrittenFigure:
    """Fig. 4(B) for a trained model: ``<output_prefix>.csv`` and ``.png``.

    ``dataset_kwargs`` go to ``make_dataset`` (e.g. ``TrainedStream.dataset_kwargs``).
    """
    rows = frames_sweep(model, records_dataset_factory(data_dir, split, batch_size, **dataset_kwargs), frame_counts)
    png, table = f"{output_prefix}.png", f"{output_prefix}.csv"
    size = plot_sweep(rows, png)
    write_sweep_csv(rows, table)
    return plotting.WrittenFigure(png=png, image_size=size, tables=(table,))

"""Per-class accuracy change between two models (paper Tables 7 and 8, SPEC §7).

The paper ranks the UCF101 classes by how much the attention layer changes their
accuracy on the RGB stream: Table 7 lists the five largest increases, Table 8
the five largest decreases, in percentage points of per-class top-1 accuracy
(the recall of the class). Here every class is ranked; the Markdown shows the
two tables and the CSV holds all classes; a bar chart shows every change.
"""

import csv
import dataclasses

import numpy as np

from iastp_tf.analysis import plotting
from iastp_tf.analysis.score_pairs import ScorePair, load_pair
from iastp_tf.evaluation.metrics import per_class_accuracy

CSV_HEADER = ("rank", "class", "videos", "accuracy_before", "accuracy_after", "change")


@dataclasses.dataclass(frozen=True)
class ClassGain:
    """One class's accuracy (%) in both models and the change (percentage points)."""

    class_name: str
    videos: int
    accuracy_before: float
    accuracy_after: float

    @property
    def change(self) -> float:
        return self.accuracy_after - self.accuracy_before


def class_gains(pair: ScorePair) -> list[ClassGain]:
    """Classes with test videos, ranked by accuracy change, largest increase first.

    Ties keep the class order of the score files.
    """
    before = 100.0 * per_class_accuracy(pair.labels, pair.before)
    after = 100.0 * per_class_accuracy(pair.labels, pair.after)
    videos = np.bincount(pair.labels, minlength=pair.num_classes)
    gains = [
        ClassGain(str(name), int(count), float(b), float(a))
        for name, count, b, a in zip(pair.class_names, videos, before, after)
        if count > 0
    ]
    return sorted(gains, key=lambda gain: -gain.change)


def gains_markdown(gains, top=5, before_label="without attention", after_label="with attention") -> str:
    """Tables 7 and 8 as Markdown: the ``top`` largest increases and decreases."""
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    header = (
        f"| class | videos | {before_label} (%) | {after_label} (%) | change (points) |\n"
        "|---|---|---|---|---|\n"
    )

    def rows(selected):
        return "".join(
            f"| {g.class_name} | {g.videos} | {g.accuracy_before:.1f} | {g.accuracy_after:.1f} "
            f"| {g.change:+.1f} |\n"
            for g in selected
        )

    increases = [g for g in gains if g.change > 0][:top]
    decreases = sorted((g for g in gains if g.change < 0), key=lambda g: g.change)[:top]
    return (
        f"Table 7: the classes whose accuracy increases most, up to {top} ({after_label} vs {before_label})\n\n"
        + header
        + (rows(increases) or "| — | — | — | — | — |\n")
        + f"\nTable 8: the classes whose accuracy decreases most, up to {top}\n\n"
        + header
        + (rows(decreases) or "| — | — | — | — | — |\n")
    )


def write_gains_csv(gains, path) -> None:
    """All ranked classes: rank, class, videos, both accuracies (%), change (points)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for rank, g in enumerate(gains, start=1):
            writer.writerow(
                (rank, g.class_name, g.videos, f"{g.accuracy_before:.4f}", f"{g.accuracy_after:.4f}",
                 f"{g.change:.4f}")
            )


def plot_gains(gains, path, before_label="without attention", after_label="with attention"):
    """Horizontal bars of every class's change, ranked; returns the PNG's ``(width, height)``."""
    count = len(gains)
    figure = plotting.new_figure(8.0, max(3.0, 1.2 + 0.16 * count))
    axes = figure.add_subplot()
    changes = np.array([g.change for g in gains])
    colors = np.where(changes >= 0, "tab:blue", "tab:red")
    axes.barh(np.arange(count), changes, color=colors)
    axes.set_yticks(np.arange(count), [g.class_name for g in gains], fontsize=7 if count > 40 else 9)
    axes.set_ylim(count - 0.5, -0.5)  # largest increase on top
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel(f"per-class accuracy change (points): {after_label} − {before_label}")
    axes.grid(axis="x", alpha=0.3)
    axes.set_title("Per-class accuracy change (paper Tables 7/8)")
    return plotting.save_png(figure, path)


def write_class_gains(
    before_path, after_path, output_prefix, top=5, before_label="without attention", after_label="with attention"
) -> plotting.WrittenFigure:
    """Tables 7/8 from two score files: ``<output_prefix>.md``, ``.csv`` and ``.png``."""
    gains = class_gains(load_pair(before_path, after_path))
    png, table, markdown = f"{output_prefix}.png", f"{output_prefix}.csv", f"{output_prefix}.md"
    size = plot_gains(gains, png, before_label, after_label)
    write_gains_csv(gains, table)
    with open(markdown, "w") as f:
        f.write(gains_markdown(gains, top, before_label, after_label))
    return plotting.WrittenFigure(png=png, image_size=size, tables=(markdown, table))

"""Difference of two confusion matrices (paper Fig. 5, §5.4, SPEC §7).

As in the paper, a confusion matrix here has one row per predicted class and
one column per true class (entry ``[p, t]`` counts videos of class ``t``
predicted as ``p``; the transpose of
:func:`iastp_tf.evaluation.metrics.confusion_matrix`), and the difference is
taken in the paper's sign: reference (e.g. without attention) minus compared
(with attention). An improvement therefore shows as a negative diagonal entry
(the compared model gets more videos of that class right) and a positive
off-diagonal entry (a confusion the compared model no longer makes).

Classes are reordered by their diagonal change, so the classes the compared
model improves most come first (top left) and those it worsens most come last
(bottom right); ties keep the score files' order.
"""

import csv

import numpy as np

from iastp_tf.analysis import plotting
from iastp_tf.analysis.score_pairs import ScorePair, load_pair
from iastp_tf.evaluation.metrics import confusion_matrix


def predicted_by_true(labels, scores, num_classes) -> np.ndarray:
    """Counts ``[N, N]``: row = predicted class (argmax of ``scores``), column = true class."""
    return confusion_matrix(labels, np.argmax(scores, axis=1), num_classes).T


def confusion_difference(pair: ScorePair) -> tuple[np.ndarray, np.ndarray]:
    """The paper's difference, reordered so the largest changes stand out.

    Returns:
      ``(difference, order)``: int64 ``[N, N]`` counts
      ``before[p, t] − after[p, t]`` with rows and columns both permuted by
      ``order`` (int ``[N]``, class indices: most improved class first).
    """
    difference = predicted_by_true(pair.labels, pair.before, pair.num_classes) - predicted_by_true(
        pair.labels, pair.after, pair.num_classes
    )
    order = np.argsort(np.diag(difference), kind="stable")  # most negative (improved) first
    return difference[np.ix_(order, order)], order


def write_difference_csv(difference, order, class_names, path) -> None:
    """The reordered matrix: header ``predicted \\ true,<true classes>``, one row per predicted class."""
    names = [str(class_names[i]) for i in order]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["predicted \\ true", *names])
        for name, row in zip(names, difference):
            writer.writerow([name, *(int(v) for v in row)])


def plot_difference(
    difference, order, class_names, path, before_label="without attention", after_label="with attention"
):
    """Heat map of the difference; returns the PNG's ``(width, height)``.

    The figure grows with the class count (about 0.14 inch per class, so 101
    UCF101 names stay legible at 6 pt); counts are printed in the cells when
    there are at most 25 classes.
    """
    count = len(order)
    names = [str(class_names[i]) for i in order]
    side = max(6.0, 2.5 + 0.14 * count)
    figure = plotting.new_figure(side + 1.2, side)
    axes = figure.add_subplot()
    limit = max(1, int(np.abs(difference).max()))
    image = axes.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    font = 6 if count > 40 else 9
    axes.set_xticks(np.arange(count), names, rotation=90, fontsize=font)
    axes.set_yticks(np.arange(count), names, fontsize=font)
    axes.set_xlabel("true class")
    axes.set_ylabel("predicted class")
    if count <= 25:
        for (row, col), value in np.ndenumerate(difference):
            if value:
                color = "white" if abs(value) > limit / 2 else "black"
                axes.text(col, row, f"{value:+d}", ha="center", va="center", fontsize=font, color=color)
    colorbar = figure.colorbar(image, ax=axes, shrink=0.6)
    colorbar.set_label("videos")
    axes.set_title(
        f"Confusion difference (paper Fig. 5): {before_label} − {after_label}\n"
        f"classes ordered by diagonal change; negative diagonal and\n"
        f"positive off-diagonal entries: {after_label} is better",
        fontsize=9,
    )
    return plotting.save_png(figure, path)


def write_confusion_difference(
    before_path, after_path, output_prefix, before_label="without attention", after_label="with attention"
) -> plotting.WrittenFigure:
    """Fig. 5 from two score files: ``<output_prefix>.png`` and ``<output_prefix>.csv``."""
    pair = load_pair(before_path, after_path)
    difference, order = confusion_difference(pair)
    png, table = f"{output_prefix}.png", f"{output_prefix}.csv"
    size = plot_difference(difference, order, pair.class_names, png, before_label, after_label)
    write_difference_csv(difference, order, pair.class_names, table)
    return plotting.WrittenFigure(png=png, image_size=size, tables=(table,))

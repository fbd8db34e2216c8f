"""Fig. 5 (confusion difference) and Tables 7/8 (per-class gains) from two score files."""

import csv

import cv2
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from iastp_tf.analysis.class_gains import write_class_gains
from iastp_tf.analysis.confusion import write_confusion_difference
from iastp_tf.analysis.score_pairs import load_pair
from tests.analysis.synthetic_scores import CLASS_NAMES, designed_predictions, write_score_file


@pytest.fixture
def score_files(tmp_path):
    labels, before, after = designed_predictions()
    write_score_file(tmp_path / "before.npz", labels, before, seed=1)
    write_score_file(tmp_path / "after.npz", labels, after, seed=2, shuffle=True)
    return tmp_path / "before.npz", tmp_path / "after.npz", (labels, before, after)


def _assert_png(written):
    image = cv2.imread(written.png)
    assert image is not None and image.std() > 0
    assert (image.shape[1], image.shape[0]) == written.image_size


def test_confusion_difference_matches_the_score_files(tmp_path, score_files):
    before_path, after_path, (labels, before, after) = score_files
    written = write_confusion_difference(before_path, after_path, tmp_path / "out" / "fig5")
    _assert_png(written)

    # Paper orientation (rows predicted, columns true) and sign (before − after).
    expected = confusion_matrix(labels, before).T - confusion_matrix(labels, after).T
    with open(written.tables[0]) as f:
        rows = list(csv.reader(f))
    names = rows[0][1:]
    index = {name: list(CLASS_NAMES).index(name) for name in names}
    for row in rows[1:]:
        for true_name, value in zip(names, row[1:]):
            assert int(value) == expected[index[row[0]], index[true_name]]
    assert [row[0] for row in rows[1:]] == names
    diagonal = [int(rows[1 + i][1 + i]) for i in range(len(names))]
    assert diagonal == sorted(diagonal)  # most improved class first
    assert names[0] == "Archery" and names[-1] == "Haircut"  # +4 and −6 videos right


def test_class_gains_match_the_score_files(tmp_path, score_files):
    before_path, after_path, (labels, before, after) = score_files
    written = write_class_gains(before_path, after_path, tmp_path / "gains", top=2)
    _assert_png(written)

    markdown_path, csv_path = written.tables
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(CLASS_NAMES)
    for row in rows:
        c = list(CLASS_NAMES).index(row["class"])
        mine = labels == c
        assert float(row["accuracy_before"]) == pytest.approx(100 * np.mean(before[mine] == c))
        assert float(row["accuracy_after"]) == pytest.approx(100 * np.mean(after[mine] == c))
        assert float(row["change"]) == pytest.approx(
            100 * (np.mean(after[mine] == c) - np.mean(before[mine] == c))
        )
        assert int(row["videos"]) == mine.sum()
    changes = [float(row["change"]) for row in rows]
    assert changes == sorted(changes, reverse=True)

    markdown = open(markdown_path).read()
    table7, table8 = markdown.split("Table 8")
    # Increases: Archery +40, Fencing +30; decreases: Haircut −60, Biking −30.
    assert "| Archery | 10 | 50.0 | 90.0 | +40.0 |" in table7
    assert "| Fencing | 10 | 70.0 | 100.0 | +30.0 |" in table7
    assert "| Haircut | 10 | 100.0 | 40.0 | -60.0 |" in table8
    assert table8.index("Haircut") < table8.index("Biking")
    assert "Diving" not in markdown and "Golf" not in markdown  # unchanged classes


def test_mismatched_score_files_raise(tmp_path, score_files):
    before_path, _, (labels, before, _) = score_files
    write_score_file(tmp_path / "fewer.npz", labels[:-1], before[:-1], seed=3)
    with pytest.raises(ValueError, match="same videos"):
        load_pair(before_path, tmp_path / "fewer.npz")

"""The results table's two files, from hand-made summaries (no training)."""

import csv

from iastp_tf.sweep import results


def test_rows_and_files(tmp_path):
    points = [
        ("A=1,preset=flow", (("A", "1"), ("s.preset", "'flow'")),
         {"top1": 0.5, "mean_class_accuracy": 0.25, "top5": 1.0}, "cmd 1"),
        ("A=2,preset=flow", (("A", "2"), ("s.preset", "'flow'")), None, "cmd | 2"),
    ]
    rows = results.table_rows(points)
    common = [{"point": f"A={a},preset=flow", "A": str(a), "s.preset": "flow"} for a in (1, 2)]
    assert rows == [
        {**common[0], "top1": 0.5, "mean_class_accuracy": 0.25, "command": "cmd 1"},
        {**common[1], "top1": None, "mean_class_accuracy": None, "command": "cmd | 2"},
    ]
    results.write_results(str(tmp_path), rows)
    with open(tmp_path / "results.csv", newline="") as f:
        assert list(csv.reader(f)) == [
            ["point", "A", "s.preset", "top1", "mean_class_accuracy", "command"],
            ["A=1,preset=flow", "1", "flow", "0.5", "0.25", "cmd 1"],
            ["A=2,preset=flow", "2", "flow", "", "", "cmd | 2"],
        ]
    assert (tmp_path / "results.md").read_text().splitlines() == [
        "| point | A | s.preset | top-1 (%) | mean class acc. (%) | command |",
        "|---|---|---|---|---|---|",
        "| A=1,preset=flow | 1 | flow | 50.00 | 25.00 | `cmd 1` |",
        "| A=2,preset=flow | 2 | flow | — | — | `cmd \\| 2` |",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.md"]

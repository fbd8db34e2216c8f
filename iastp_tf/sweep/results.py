"""A sweep's results table: ``<root>/results.csv`` and ``<root>/results.md``, one row per point.

Columns: ``point`` (its folder), one column per swept binding (its value),
the headline metrics of its ``summary.json`` (``top1`` and
``mean_class_accuracy``; ``mAP`` and ``wAP`` for multi-label data such as
Charades), and ``command``, the train + evaluate commands that reproduce the
row. The CSV holds the metrics as fractions at full precision; the Markdown
shows them in percent. A point without a summary has empty metrics.
"""

import csv
import io
import os

import gin

from iastp_tf import runs

CSV = "results.csv"
MARKDOWN = "results.md"
METRICS = ("top1", "mean_class_accuracy", "mAP", "wAP")
_HEADERS = {"top1": "top-1 (%)", "mean_class_accuracy": "mean class acc. (%)", "mAP": "mAP (%)", "wAP": "wAP (%)"}


def display_value(text) -> str:
    """A binding's gin text as shown in the table: strings without quotes, the rest as written."""
    value = gin.config.parse_value(text)
    return value if isinstance(value, str) else text


def table_rows(points) -> list[dict]:
    """Rows from ``[(name, bindings ((name, gin text), ...), summary dict or None, command)]``.

    Every row has the same keys: ``point``, the binding names, the metrics any
    summary has (``None`` where a point has none), ``command``.
    """
    metrics = [m for m in METRICS if any(summary and m in summary for _, _, summary, _ in points)]
    rows = []
    for name, bindings, summary, command in points:
        row = {"point": name, **{binding: display_value(text) for binding, text in bindings}}
        row.update({metric: (summary or {}).get(metric) for metric in metrics})
        row["command"] = command
        rows.append(row)
    return rows


def write_results(root, rows) -> tuple[str, str]:
    """Writes ``rows`` to ``root/results.csv`` and ``root/results.md``; returns both paths."""
    columns = list(rows[0])
    csv_path, md_path = os.path.join(root, CSV), os.path.join(root, MARKDOWN)
    os.makedirs(root, exist_ok=True)
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=columns)
    writer.writeheader()
    writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)
    # Atomic, through a temporary file of this process: the last shards may finish at the same time.
    runs.write_text_atomically(csv_path, table.getvalue())

    def cell(column, value):
        if value is None:
            return "—"
        if column in METRICS:
            return f"{100 * value:.2f}"
        text = str(value).replace("|", "\\|")  # GitHub tables need \| even inside code spans
        return f"`{text}`" if column == "command" else text

    lines = ["| " + " | ".join(_HEADERS.get(c, c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, row[c]) for c in columns) + " |" for row in rows]
    runs.write_text_atomically(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path

"""Paper Table 10: parameters of each backbone's stream with 0-3 attention scales.

What ``tools/param_table.py`` runs::

    python tools/param_table.py [--backbones=vgg16,bn_inception,inception_resnet_v2]
        [--num_classes=101] [--max_scales=3] [--output_prefix=out/table10]

:func:`parameter_rows` counts each stream's parameters, :func:`check_rows`
holds the added ones to the SPEC §3 formula ``Σ_j (C_j·H·W + H·W)`` over the
used levels (H, W the top level's size), and :func:`markdown_table` /
:func:`write_table` put our counts beside the paper's Table 10 (Markdown and
CSV). Counts come from ``build_stream_model`` (RGB, random weights, no forward
pass) and are trainable parameters, as published parameter counts are (BN
moving statistics are buffers).
"""

import csv
import dataclasses
import math

import keras
import numpy as np

from iastp_tf.backbones import build_backbone
from iastp_tf.models import build_stream_model

# Paper Table 10, millions of parameters: original, 1, 2 and 3 scales.
PAPER_TABLE_10 = {
    "vgg16": (138.56, 138.62, 138.69, 138.82),
    "bn_inception": (10.26, 10.31, 10.36, 10.38),
    "inception_resnet_v2": (57.11, 57.24, 57.31, 57.33),
}
_TITLES = {
    "vgg16": "VGGNet-16",
    "bn_inception": "BN-Inception",
    "inception_resnet_v2": "Inception-ResNet-V2",
    "resnet50": "ResNet-50",
    "resnet50_tsm": "ResNet-50 (TSM)",
    "tiny": "tiny",
}


@dataclasses.dataclass(frozen=True)
class ParameterRow:
    """One row of Table 10 (counts in parameters, not millions)."""

    backbone: str
    num_scales: int
    parameters: int
    added: int  # over num_scales = 0
    formula: int  # Σ_j (C_j·H·W + H·W) over the used levels
    paper: float | None  # millions, Table 10

    @property
    def paper_added(self) -> float | None:
        original = PAPER_TABLE_10.get(self.backbone, (None,))[0]
        return None if self.paper is None else self.paper - original


def attention_formula(tap_shapes, num_scales: int) -> int:
    """``Σ_j (C_j·H·W + H·W)`` over the top ``num_scales`` taps ``[H_j, W_j, C_j]``."""
    height, width, _ = tap_shapes[-1]
    positions = height * width
    return sum(channels * positions + positions
               for _, _, channels in tap_shapes[len(tap_shapes) - num_scales:]) if num_scales else 0


def trainable_parameters(model: keras.Model) -> int:
    """Trainable parameters (BN moving statistics are not parameters)."""
    return int(sum(np.prod(weight.shape) for weight in model.trainable_weights))


def parameter_rows(backbone: str, num_classes: int = 101, max_scales: int = 3,
                   input_size: int | None = None) -> list[ParameterRow]:
    """Counts the stream model's parameters for ``num_scales`` = 0..``max_scales``."""
    trunk = build_backbone(backbone, input_size=input_size).trunk
    tap_shapes = [tuple(t.shape[1:]) for t in trunk.outputs]
    keras.backend.clear_session()
    paper = PAPER_TABLE_10.get(backbone)
    rows = []
    for num_scales in range(max_scales + 1):
        model = build_stream_model(
            backbone, num_classes=num_classes, num_scales=num_scales,
            attention="pyramid" if num_scales else "none", input_size=input_size,
        )
        parameters = trainable_parameters(model)
        del model
        keras.backend.clear_session()
        original = rows[0].parameters if rows else parameters
        rows.append(ParameterRow(
            backbone=backbone,
            num_scales=num_scales,
            parameters=parameters,
            added=parameters - original,
            formula=attention_formula(tap_shapes, num_scales),
            paper=paper[num_scales] if paper and num_scales < len(paper) else None,
        ))
    return rows


def _millions(value, signed=False) -> str:
    if value is None:
        return "—"
    return f"{value / 1e6:+.2f}" if signed else f"{value / 1e6:.2f}"


def _paper(value, signed=False) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def markdown_table(rows: list[ParameterRow]) -> str:
    """Table 10 as Markdown, millions of parameters, the paper's numbers beside ours."""
    lines = [
        "| backbone | scales | ours (M) | ours added (M) | Σ(C_j·H·W + H·W) | paper (M) | paper added (M) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        scales = "original" if row.num_scales == 0 else str(row.num_scales)
        lines.append(
            f"| {_TITLES.get(row.backbone, row.backbone)} | {scales} | {_millions(row.parameters)} "
            f"| {_millions(row.added, signed=True)} | {row.formula:,} | {_paper(row.paper)} "
            f"| {_paper(row.paper_added, signed=True)} |"
        )
    return "\n".join(lines)


def write_table(rows: list[ParameterRow], output_prefix: str) -> tuple[str, str]:
    """Writes ``<prefix>.md`` and ``<prefix>.csv``; returns their paths."""
    markdown_path, csv_path = f"{output_prefix}.md", f"{output_prefix}.csv"
    with open(markdown_path, "w") as f:
        f.write(markdown_table(rows) + "\n")
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["backbone", "num_scales", "parameters", "added", "formula",
                         "paper_millions"])
        for row in rows:
            writer.writerow([row.backbone, row.num_scales, row.parameters, row.added,
                             row.formula, "" if row.paper is None else row.paper])
    return markdown_path, csv_path


def check_rows(rows: list[ParameterRow]) -> None:
    """Raises ``ValueError`` for a row whose added parameters differ from the SPEC §3 formula."""
    for row in rows:
        if row.added != row.formula:
            raise ValueError(f"{row.backbone} with {row.num_scales} scales adds {row.added} "
                             f"parameters, the formula gives {row.formula}")

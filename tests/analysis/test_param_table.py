"""tools/param_table.py: Table 10 rows, the SPEC §3 formula and the Markdown."""

import numpy as np

from tools import param_table


def test_tiny_rows_add_exactly_the_formula():
    # tiny at 64: taps 16x16x24, 8x8x32, 4x4x48; top H·W = 16, so each level adds C_j·16 + 16.
    rows = param_table.parameter_rows("tiny", num_classes=101, max_scales=3, input_size=64)
    assert [row.num_scales for row in rows] == [0, 1, 2, 3]
    assert [row.added for row in rows] == [0, 48 * 16 + 16, 784 + 32 * 16 + 16, 1312 + 24 * 16 + 16]
    assert [row.formula for row in rows] == [row.added for row in rows]
    # tiny convs (3->16->24->32->48, 3x3, with bias) + a 48 -> 101 classifier.
    convs = sum(9 * cin * cout + cout for cin, cout in ((3, 16), (16, 24), (24, 32), (32, 48)))
    assert rows[0].parameters == convs + 48 * 101 + 101
    assert all(row.paper is None for row in rows)


def test_attention_formula_uses_the_top_level_size():
    taps = [(71, 71, 192), (35, 35, 320), (17, 17, 1088), (8, 8, 2080)]
    assert param_table.attention_formula(taps, 0) == 0
    assert param_table.attention_formula(taps, 1) == 2080 * 64 + 64
    assert param_table.attention_formula(taps, 4) == (192 + 320 + 1088 + 2080) * 64 + 4 * 64


def test_markdown_puts_the_paper_beside_ours(tmp_path):
    rows = [
        param_table.ParameterRow("inception_resnet_v2", 0, 54_485_093, 0, 0, 57.11),
        param_table.ParameterRow("inception_resnet_v2", 1, 54_618_277, 133_184, 133_184, 57.24),
    ]
    lines = param_table.markdown_table(rows).splitlines()
    assert lines[2] == "| Inception-ResNet-V2 | original | 54.49 | +0.00 | 0 | 57.11 | +0.00 |"
    assert lines[3] == "| Inception-ResNet-V2 | 1 | 54.62 | +0.13 | 133,184 | 57.24 | +0.13 |"
    markdown, csv_path = param_table.write_table(rows, str(tmp_path / "table10"))
    assert open(markdown).read().splitlines() == lines
    table = np.genfromtxt(csv_path, delimiter=",", names=True, dtype=None, encoding=None)
    assert list(table["added"]) == [0, 133_184]

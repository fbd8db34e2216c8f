"""Table 10 (iastp_tf.analysis.param_table): rows, the SPEC §3 formula, the Markdown, and the tool shell."""

import os
import subprocess
import sys

import numpy as np
import pytest

from iastp_tf.analysis import param_table

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def test_check_rows_refuses_a_count_off_the_formula():
    good = param_table.ParameterRow("tiny", 1, 1000, 784, 784, None)
    param_table.check_rows([good])
    with pytest.raises(ValueError, match="tiny with 1 scales adds 785 parameters, the formula gives 784"):
        param_table.check_rows([param_table.ParameterRow("tiny", 1, 1001, 785, 784, None)])


def test_tool_prints_the_table_and_writes_its_files(tmp_path):
    prefix = tmp_path / "table10"
    result = subprocess.run(
        [sys.executable, os.path.join(_REPO, "tools", "param_table.py"), "--backbones=tiny", "--max_scales=1",
         f"--output_prefix={prefix}"],
        capture_output=True, text=True, timeout=300, cwd=_REPO,
        env={**os.environ, "PYTHONPATH": _REPO},
    )
    assert result.returncode == 0, result.stderr
    assert "| tiny | 1 | " in result.stdout
    assert (tmp_path / "table10.csv").read_text().splitlines()[2].startswith("tiny,1,")

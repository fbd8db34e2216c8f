"""Three-split means (Tables 12/13) on hand-made score files."""

import os
import subprocess
import sys

import numpy as np
import pytest

from iastp_tf.evaluation.scores import save_scores
from iastp_tf.evaluation.split_means import split_means

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASSES = ["a", "b", "c"]


def _write(path, labels, predictions, confidence=5.0):
    """Scores whose argmax is ``predictions`` (logit ``confidence`` there, 0 elsewhere)."""
    scores = np.zeros((len(labels), 3), np.float32)
    scores[np.arange(len(labels)), predictions] = confidence
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_scores(path, [f"v{i}" for i in range(len(labels))], labels, scores, CLASSES)


@pytest.fixture
def runs(tmp_path):
    """Split 1: 3/4 right, split 2: 1/2, split 3: 4/5 (different sizes, so mean != pooled)."""
    truth = {1: [0, 1, 2, 0], 2: [0, 1], 3: [2, 2, 1, 0, 1]}
    rgb = {1: [0, 1, 2, 1], 2: [0, 0], 3: [2, 2, 1, 0, 0]}
    for split in truth:
        _write(str(tmp_path / f"s{split}" / "rgb.npz"), truth[split], rgb[split])
    return tmp_path, truth


def test_mean_is_the_unweighted_mean_of_the_splits_top1(runs):
    root, truth = runs
    results = split_means([str(root / "s{split}" / "rgb.npz")])
    assert [results.per_split[s]["top1"] for s in (1, 2, 3)] == pytest.approx([0.75, 0.5, 0.8])
    assert results.mean["top1"] == pytest.approx((0.75 + 0.5 + 0.8) / 3)  # not pooled 10/11
    assert results.mean["num_videos"] == 11
    assert "| mean |" in results.markdown() and "68.33" in results.markdown()


def test_each_split_is_fused_with_the_weights_before_the_mean(runs, tmp_path):
    root, truth = runs
    # flow (logit 4) disagrees with RGB (logit 5) in places; with 1 : 1.5 flow wins every disagreement.
    flow = {1: [1, 1, 1, 0], 2: [1, 1], 3: [1, 1, 0, 1, 1]}
    for split in truth:
        _write(str(root / f"s{split}" / "flow.npz"), truth[split], flow[split], confidence=4.0)
    patterns = [str(root / "s{split}" / "rgb.npz"), str(root / "s{split}" / "flow.npz")]
    fused = split_means(patterns, weights=[1.0, 1.5])
    # The same fusion in NumPy, per split.
    expected = {}
    for split in truth:
        rgb_scores = np.zeros((len(truth[split]), 3))
        flow_scores = np.zeros_like(rgb_scores)
        rgb_pred = {1: [0, 1, 2, 1], 2: [0, 0], 3: [2, 2, 1, 0, 0]}[split]
        rgb_scores[np.arange(len(rgb_pred)), rgb_pred] = 5.0
        flow_scores[np.arange(len(rgb_pred)), flow[split]] = 4.0
        expected[split] = np.mean(np.argmax(rgb_scores + 1.5 * flow_scores, axis=1) == truth[split])
    assert [fused.per_split[s]["top1"] for s in (1, 2, 3)] == pytest.approx([expected[s] for s in (1, 2, 3)])
    assert fused.mean["top1"] == pytest.approx(np.mean(list(expected.values())))


@pytest.mark.parametrize("patterns, weights, message", [
    (["runs/s1/rgb.npz"], None, "no {split} field"),
    (["a{split}.npz", "b{split}.npz"], None, "one fusion weight each"),
    (["a{split}.npz"], [1.0, 2.0], "2 weights for 1"),
])
def test_bad_arguments_are_named(patterns, weights, message):
    with pytest.raises(ValueError, match=message):
        split_means(patterns, weights)


def test_a_missing_split_names_the_file(runs):
    root, _ = runs
    os.remove(root / "s2" / "rgb.npz")
    with pytest.raises(FileNotFoundError, match="split 2.*s2/rgb.npz"):
        split_means([str(root / "s{split}" / "rgb.npz")])


def test_tool_prints_the_table_and_one_line_errors(runs):
    root, _ = runs
    env = {**os.environ, "PYTHONPATH": _REPO}
    tool = os.path.join(_REPO, "tools", "split_means.py")
    done = subprocess.run([sys.executable, tool, f"--scores={root}/s{{split}}/rgb.npz", f"--output={root}/t.md"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| mean | **68.33**" in done.stdout
    assert open(root / "t.md").read().strip() == done.stdout.strip()
    bad = subprocess.run([sys.executable, tool, f"--scores={root}/s1/rgb.npz"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert bad.returncode != 0 and "no {split} field" in bad.stderr and "Traceback" not in bad.stderr

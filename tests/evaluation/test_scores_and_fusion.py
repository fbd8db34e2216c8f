"""Scores files and weighted late fusion (SPEC §5)."""

import json

import numpy as np
import pytest

from iastp_tf.evaluation import fusion
from iastp_tf.evaluation.scores import load_scores, save_scores


def _write(path, ids, labels, scores, names=("a", "b", "c")):
    save_scores(path, ids, labels, scores, list(names))
    return str(path)


def test_scores_round_trip(tmp_path):
    ids = ["v0", "v1"]
    scores = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]], np.float32)
    loaded = load_scores(_write(tmp_path / "s.npz", ids, [2, 0], scores))
    assert list(loaded.video_ids) == ids
    np.testing.assert_array_equal(loaded.labels, [2, 0])
    np.testing.assert_array_equal(loaded.scores, scores)
    assert list(loaded.class_names) == ["a", "b", "c"]


def test_multi_hot_labels_round_trip(tmp_path):
    labels = np.array([[1, 0, 1], [0, 1, 0]])
    loaded = load_scores(_write(tmp_path / "s.npz", ["x", "y"], labels, np.zeros((2, 3))))
    assert loaded.multi_label
    np.testing.assert_array_equal(loaded.labels, labels)


def test_fusion_weights_and_aligns_external_csv_scores(tmp_path):
    rgb = _write(tmp_path / "rgb.npz", ["v0", "v1"], [0, 1], [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    # External scores: other video order, one extra video, no labels.
    csv_path = tmp_path / "idt.csv"
    csv_path.write_text("video_id,a,b,c\nv9,5,5,5\nv1,0,0,4\nv0,0,3,0\n")
    summary = fusion.fuse(
        workdir=str(tmp_path / "out"), score_files=[rgb, str(csv_path)], weights=[1.0, 0.5]
    )
    fused = load_scores(tmp_path / "out" / "fused_scores.npz")
    expected = np.array([[1.0, 1.5, 0.0], [0.0, 2.0, 2.0]])
    np.testing.assert_allclose(fused.scores, expected)
    np.testing.assert_array_equal(fused.labels, [0, 1])
    assert summary["weights"] == [1.0, 0.5]
    assert json.loads((tmp_path / "out" / "fusion.json").read_text())["fused"]["top1"] == pytest.approx(0.5)


def test_softmax_normalization():
    a = np.array([[0.0, np.log(3.0)]])
    scores = fusion.VideoScores(np.array(["v"]), np.array([1]), a, np.array(["x", "y"]))
    fused = fusion.fuse_scores([scores, scores], [1.0, 1.0], normalization="softmax")
    np.testing.assert_allclose(fused.scores, [[0.5, 1.5]], rtol=1e-6)


def test_weight_search_finds_the_stream_that_helps(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=50)
    good = np.eye(3)[labels] * 2 + rng.normal(scale=0.6, size=(50, 3))
    noise = rng.normal(scale=3.0, size=(50, 3))
    ids = [f"v{i}" for i in range(50)]
    sets = [fusion.VideoScores(np.array(ids), labels, s, np.array(list("abc"))) for s in (noise, good)]
    weights = fusion.search_weights(sets)
    assert weights[0] == 1.0 and weights[1] >= 2.0  # the grid's stronger weights on the good stream
    fused_accuracy = np.mean(fusion.fuse_scores(sets, weights).scores.argmax(1) == labels)
    assert fused_accuracy > np.mean(noise.argmax(1) == labels)


def test_fuse_searches_weights_on_held_out_files(tmp_path):
    held = [_write(tmp_path / f"h{i}.npz", ["v0"], [1], s) for i, s in enumerate([[[1.0, 0, 0]], [[0, 1.0, 0]]])]
    test = [_write(tmp_path / f"t{i}.npz", ["w0"], [0], s) for i, s in enumerate([[[1.0, 0, 0]], [[0, 1.0, 0]]])]
    summary = fusion.fuse(workdir=str(tmp_path / "o"), score_files=test, search_score_files=held, weight_grid=(0.5, 2.0))
    # On the held-out video only the second stream is right, so it needs weight 2 > 1.
    assert summary["weights"] == [1.0, 2.0]
    assert summary["weights_chosen_by"].startswith("search")


def test_mismatched_classes_raise(tmp_path):
    a = _write(tmp_path / "a.npz", ["v"], [0], [[1.0, 0, 0]])
    b = _write(tmp_path / "b.npz", ["v"], [0], [[1.0, 0, 0]], names=("a", "b", "z"))
    with pytest.raises(ValueError, match="class names"):
        fusion.fuse(workdir=str(tmp_path / "o"), score_files=[a, b])

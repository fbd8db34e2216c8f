"""Video-level evaluation: views averaged per video, and the evaluate entry's outputs."""

import csv
import json
import os
import shutil

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data.pipeline import make_dataset
from iastp_tf.evaluation import metrics
from iastp_tf.evaluation.evaluate import evaluate, evaluate_model
from iastp_tf.evaluation.scores import load_scores
from iastp_tf.models import build_stream_model
from iastp_tf.training.train import train
from tests.training import helpers


@pytest.fixture(autouse=True)
def _clear_gin():
    yield
    gin.clear_config()


def test_scores_are_logits_averaged_over_views():
    model = build_stream_model("tiny", num_classes=3, input_size=32, num_scales=2)
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(5, 4, 2, 32, 32, 3)).astype(np.float32)  # [videos, V, K, S, S, C]
    labels = np.array([0, 1, 2, 0, 1], np.int32)
    ids = np.array([f"v{i}".encode() for i in range(5)])
    dataset = tf.data.Dataset.from_tensor_slices((frames, labels, ids)).batch(2)
    video_ids, got_labels, scores = evaluate_model(model, dataset)
    expected = np.stack([np.mean([model(frames[i, v : v + 1]).numpy()[0] for v in range(4)], axis=0) for i in range(5)])
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    assert list(video_ids) == [f"v{i}" for i in range(5)]
    np.testing.assert_array_equal(got_labels, labels)


def test_evaluate_writes_scores_summary_and_confusion_matrix(tmp_path):
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=1)
    helpers.bind_tiny()
    common = dict(data_dir=data_dir, model_fn=build_stream_model, dataset_fn=make_dataset)
    train(workdir=str(tmp_path / "run"), batch_size=4, total_steps=2, checkpoint_every=2, verbose=0, **common)
    gin.bind_parameter("eval/make_dataset.num_segments", 5)
    summary = evaluate(workdir=str(tmp_path / "run"), **common)
    out = tmp_path / "run" / "eval_test"
    scores = load_scores(out / "scores.npz")
    assert scores.scores.shape == (helpers.NUM_CLASSES, helpers.NUM_CLASSES)
    assert summary["top1"] == pytest.approx(metrics.top_k_accuracy(scores.labels, scores.scores, 1))
    assert json.loads((out / "summary.json").read_text())["num_videos"] == helpers.NUM_CLASSES
    with open(out / "confusion_matrix.csv") as f:
        rows = list(csv.reader(f))
    counts = np.array([[int(v) for v in row[1:]] for row in rows[1:]])
    assert counts.sum() == helpers.NUM_CLASSES and np.all(counts.sum(axis=1) == 1)
    assert "eval/make_dataset.num_segments = 5" in (out / "operative_config.gin").read_text()


def test_multi_label_training_and_map(tmp_path):
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=1, multi_label=True)
    helpers.bind_tiny()
    common = dict(data_dir=data_dir, model_fn=build_stream_model, dataset_fn=make_dataset)
    logs = train(workdir=str(tmp_path / "run"), batch_size=4, total_steps=2, checkpoint_every=2, verbose=0, **common)
    assert np.isfinite(logs["loss"])
    summary = evaluate(workdir=str(tmp_path / "run"), **common)
    scores = load_scores(tmp_path / "run" / "eval_test" / "scores.npz")
    assert scores.labels.shape == (helpers.NUM_CLASSES, helpers.NUM_CLASSES)  # multi-hot
    assert summary["mAP"] == pytest.approx(metrics.charades_map(scores.labels, scores.scores)[0])
    assert not os.path.exists(tmp_path / "run" / "eval_test" / "confusion_matrix.csv")


@pytest.mark.parametrize("options", [{"jit_compile": True}, {"mixed_precision": "mixed_bfloat16"}])
def test_xla_and_mixed_precision_train(tmp_path, options):
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=1)
    helpers.bind_tiny()
    logs = train(workdir=str(tmp_path / "run"), data_dir=data_dir, model_fn=build_stream_model,
                 dataset_fn=make_dataset, batch_size=4, total_steps=2, checkpoint_every=2, verbose=0, **options)
    assert np.isfinite(logs["loss"]) and logs["step"] == 2
    if "mixed_precision" in options:
        assert keras.config.dtype_policy().name == "mixed_bfloat16"


@pytest.fixture
def trained_workdir(tmp_path):
    """A 2-step run on 4 synthetic videos: ``(data_dir, workdir)``."""
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=1)
    helpers.bind_tiny()
    train(workdir=str(tmp_path / "run"), data_dir=data_dir, model_fn=build_stream_model, dataset_fn=make_dataset,
          batch_size=4, total_steps=4, checkpoint_every=2, verbose=0)
    return data_dir, str(tmp_path / "run")


def _evaluate(data_dir, workdir, **kwargs):
    return evaluate(workdir=workdir, data_dir=data_dir, model_fn=build_stream_model, dataset_fn=make_dataset, **kwargs)


def test_evaluate_scores_the_final_weights_by_default(trained_workdir):
    data_dir, workdir = trained_workdir
    open(os.path.join(workdir, "best.weights.h5"), "wb").close()  # an unreadable best: must not be read
    summary = _evaluate(data_dir, workdir)
    assert summary["weights"] == os.path.join(workdir, "last.weights.h5")
    with pytest.raises(ValueError, match="best.weights.h5"):  # "best" stays an option, and names a bad file
        _evaluate(data_dir, workdir, checkpoint="best")


def test_evaluate_refuses_non_finite_scores(trained_workdir):
    data_dir, workdir = trained_workdir
    model = build_stream_model()
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    model.save_weights(os.path.join(workdir, "last.weights.h5"))
    with pytest.raises(ValueError, match="not finite"):
        _evaluate(data_dir, workdir)
    assert not os.path.exists(os.path.join(workdir, "eval_test", "summary.json"))


def test_evaluate_refuses_records_with_other_class_names(trained_workdir, tmp_path):
    data_dir, workdir = trained_workdir
    other = str(tmp_path / "other")
    shutil.copytree(data_dir, other)
    info = json.loads(open(os.path.join(other, "dataset.json")).read())
    info["class_names"] = info["class_names"][::-1]  # same count, other order
    with open(os.path.join(other, "dataset.json"), "w") as f:
        json.dump(info, f)
    with pytest.raises(ValueError, match="class 0 is"):
        _evaluate(other, workdir)

"""Fig. 4(B): one evaluation per K, equal to evaluating at that K on its own."""

import csv

import cv2
import keras
import numpy as np
import pytest
from keras import ops

from iastp_tf.analysis import frames_sweep
from iastp_tf.data.pipeline import make_dataset
from iastp_tf.data.prepare.synthetic import write_synthetic_dataset
from iastp_tf.evaluation.evaluate import evaluate_model

SIZE = 32


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("records"))
    write_synthetic_dataset(data_dir, num_classes=5, videos_per_class=2, frames=10, size=SIZE, with_flow=False)
    return data_dir


def _frame_count_sensitive_model(num_classes=5):
    """Logits that change with each video's colours and with K, so that every
    K gives a different accuracy (an untrained stream model predicts one class
    everywhere and could not tell the K apart)."""
    frames = keras.Input((None, SIZE, SIZE, 3))

    def logits(x):
        k = ops.cast(ops.shape(x)[1], "float32")
        phase = 40.0 * ops.sum(ops.mean(x, axis=(1, 2, 3)), axis=1, keepdims=True) + k  # [B, 1]
        return ops.sin(phase * ops.arange(1, num_classes + 1, dtype="float32"))  # [B, N]

    return keras.Model(frames, keras.layers.Lambda(logits)(frames))


def _top1_at(model, data_dir, frames):
    dataset = make_dataset(
        data_dir, "test", batch_size=3, training=False, num_segments=frames, input_size=SIZE
    )
    _, labels, scores = evaluate_model(model, dataset)
    return float(np.mean(np.argmax(scores, axis=1) == labels)), len(labels)


def test_one_row_per_k_matching_separate_evaluations(records, tmp_path):
    model = _frame_count_sensitive_model()
    factory = frames_sweep.records_dataset_factory(records, batch_size=4, input_size=SIZE)
    rows = frames_sweep.frames_sweep(model, factory, frame_counts=[1, 2, 4, 7])
    assert [row.frames for row in rows] == [1, 2, 4, 7]
    assert len({row.top1 for row in rows}) > 1  # the K really differ
    for row in rows[1], rows[3]:
        top1, videos = _top1_at(model, records, row.frames)
        assert row.videos == videos == 10
        assert row.top1 == pytest.approx(top1)

    png = tmp_path / "fig4.png"
    size = frames_sweep.plot_sweep(rows, png)
    image = cv2.imread(str(png))
    assert (image.shape[1], image.shape[0]) == size and image.std() > 0
    frames_sweep.write_sweep_csv(rows, tmp_path / "fig4.csv")
    with open(tmp_path / "fig4.csv") as f:
        table = list(csv.DictReader(f))
    assert [int(r["frames"]) for r in table] == [1, 2, 4, 7]
    assert [float(r["top1"]) for r in table] == pytest.approx([row.top1 for row in rows], abs=1e-6)


def test_bad_frame_counts_raise():
    with pytest.raises(ValueError, match="frame_counts"):
        frames_sweep.frames_sweep(model=None, dataset_for_frames=None, frame_counts=[0, 3])

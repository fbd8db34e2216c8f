"""The training entry on synthetic records: learning, resumption, replicas (SPEC §5)."""

import csv
import os

import gin
import keras
import numpy as np
import pytest

from iastp_tf.data.pipeline import make_dataset
from iastp_tf.evaluation.evaluate import validation_metrics
from iastp_tf.models import build_stream_model
from iastp_tf.training.train import train
from tests.training import helpers


@pytest.fixture(autouse=True)
def _clear_gin():
    yield
    gin.clear_config()


def _train(data_dir, workdir, **kwargs):
    arguments = dict(
        workdir=str(workdir),
        data_dir=data_dir,
        model_fn=build_stream_model,
        dataset_fn=make_dataset,
        batch_size=4,
        seed=1,
        verbose=0,
    )
    arguments.update(kwargs)
    return train(**arguments)


def _csv_rows(workdir):
    with open(os.path.join(workdir, "train_log.csv")) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_short_run_lowers_the_loss_and_beats_chance(tmp_path):
    data_dir = helpers.write_records(str(tmp_path))
    helpers.bind_tiny(learning_rate=0.01)  # 0.03 is on the edge: one seed's loss went to NaN at step 147
    logs = _train(data_dir, tmp_path / "run", batch_size=8, total_steps=200, checkpoint_every=50,
                  validation_split="test", validation_fn=validation_metrics)
    rows = _csv_rows(tmp_path / "run")
    assert float(rows[-1]["cross_entropy"]) < float(rows[0]["cross_entropy"])
    assert logs["val_top1"] >= 0.5  # chance is 0.25
    for name in ("operative_config.gin", "best.weights.h5", "last.weights.h5", "tensorboard"):
        assert os.path.exists(tmp_path / "run" / name), name
    assert "build_stream_model.backbone = 'tiny'" in (tmp_path / "run" / "operative_config.gin").read_text()


class _Interrupt(keras.callbacks.Callback):
    """Raises after the given (0-based) step, as a killed job would stop."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.step:
            raise RuntimeError("interrupted")


def test_killed_run_resumes_at_its_checkpoint_and_matches_an_uninterrupted_run_bit_for_bit(tmp_path):
    # 12 videos, batch 4: 3 steps per epoch. Checkpoints at 2, 4, 6; the run is
    # killed in step 5 and resumes at 4, in the middle of the second epoch, then
    # crosses the epoch boundary at 6 (a reshuffle) before ending at 8.
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=3)
    helpers.bind_tiny(learning_rate=0.02, dropout=0.5)
    common = dict(total_steps=8, checkpoint_every=2, checkpoint_input=True)
    _train(data_dir, tmp_path / "whole", **common)

    with pytest.raises(RuntimeError, match="interrupted"):
        _train(data_dir, tmp_path / "killed", callbacks=[_Interrupt(step=4)], **common)
    # Steps 0..3 were checkpointed (at 2 and 4); step 4 ran but is lost.
    assert [row["step"] for row in _csv_rows(tmp_path / "killed")] == ["2", "4"]
    logs = _train(data_dir, tmp_path / "killed", **common)
    assert logs["step"] == 8
    assert [row["step"] for row in _csv_rows(tmp_path / "killed")] == ["2", "4", "6", "8"]
    # The learning rate follows the schedule of the restored iteration count.
    assert float(_csv_rows(tmp_path / "killed")[-1]["learning_rate"]) == pytest.approx(0.02)

    whole, resumed = helpers.final_weights(tmp_path / "whole"), helpers.final_weights(tmp_path / "killed")
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_csv_rows(tmp_path / "whole"), _csv_rows(tmp_path / "killed")):
        assert a["cross_entropy"] == b["cross_entropy"]  # the same batches, in the same order


def test_finished_run_is_not_trained_again(tmp_path):
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=1)
    helpers.bind_tiny()
    _train(data_dir, tmp_path / "run", total_steps=2, checkpoint_every=2)
    assert _train(data_dir, tmp_path / "run", total_steps=2, checkpoint_every=2) == {}


def test_one_and_two_replicas_take_the_same_first_step(tmp_path):
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=1)
    helpers.bind_tiny(learning_rate=0.05, dropout=0.0)
    _train(data_dir, tmp_path / "one", total_steps=1, checkpoint_every=1)
    gin.bind_parameter("make_strategy.devices", ["/cpu:0", "/cpu:1"])
    _train(data_dir, tmp_path / "two", total_steps=1, checkpoint_every=1, strategy="mirrored")
    one, two = helpers.final_weights(tmp_path / "one"), helpers.final_weights(tmp_path / "two")
    moved = [not np.allclose(a, b) for a, b in zip(one, helpers.initial_weights())]
    assert any(moved)  # the step changed the weights, so the comparison means something
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batch_larger_than_the_split_raises(tmp_path):
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=1)
    helpers.bind_tiny()
    with pytest.raises(ValueError, match="batch_size 64 exceeds"):
        _train(data_dir, tmp_path / "run", batch_size=64, total_steps=1, checkpoint_every=1)


def test_wrong_number_of_classes_raises(tmp_path):
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=1)
    helpers.bind_tiny()
    gin.bind_parameter("build_stream_model.num_classes", 7)
    with pytest.raises(ValueError, match="NUM_CLASSES"):
        _train(data_dir, tmp_path / "run", total_steps=1, checkpoint_every=1)

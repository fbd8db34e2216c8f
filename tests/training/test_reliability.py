"""Training fails loudly and loses nothing (issue 12 rows 5, 11, 12, 16, 19, 20, 21; issue 11.5)."""

import csv
import glob
import io
import json
import logging
import os

import gin
import pytest

from iastp_tf import runs
from iastp_tf.data.pipeline import make_dataset
from iastp_tf.models import build_stream_model
from iastp_tf.training import loop
from iastp_tf.training.train import train
from tests.training import helpers


@pytest.fixture(autouse=True)
def _clear_gin():
    yield
    gin.clear_config()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return helpers.write_records(str(tmp_path_factory.mktemp("records")), videos_per_class=1)


def _train(data_dir, workdir, **kwargs):
    arguments = dict(workdir=str(workdir), data_dir=data_dir, model_fn=build_stream_model, dataset_fn=make_dataset,
                     batch_size=4, seed=1, verbose=0, total_steps=2, checkpoint_every=2)
    arguments.update(kwargs)
    return train(**arguments)


def _csv_rows(workdir):
    with open(os.path.join(workdir, "train_log.csv")) as f:
        return list(csv.DictReader(f))


def test_a_non_finite_loss_stops_training_naming_the_step_and_the_last_good_checkpoint(data_dir, tmp_path):
    helpers.bind_tiny()
    # A sane rate for updates 0-1 (checkpointed at 2), then 3e28: the weights blow up.
    gin.parse_config("learning_rate_schedule.boundaries = [2]\nlearning_rate_schedule.decay_factor = 1e30")
    with pytest.raises(FloatingPointError, match=r"at step [3-8] .*ckpt-2"):
        _train(data_dir, tmp_path / "run", total_steps=8)
    assert [row["step"] for row in _csv_rows(tmp_path / "run")] == ["2"]  # nothing after the last good interval
    checkpoints = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "run" / "checkpoints" / "ckpt-*.index")))
    assert checkpoints == ["ckpt-2.index"]


def test_a_truncated_checkpoint_falls_back_to_the_previous_one_with_a_warning(data_dir, tmp_path, caplog):
    helpers.bind_tiny()
    _train(data_dir, tmp_path / "run", total_steps=4)
    data_file = glob.glob(str(tmp_path / "run" / "checkpoints" / "ckpt-4.data-*"))[0]
    with open(data_file, "r+b") as f:
        f.truncate(os.path.getsize(data_file) // 2)
    with caplog.at_level(logging.WARNING, logger="absl"):
        logs = _train(data_dir, tmp_path / "run", total_steps=6)
    assert logs["step"] == 6
    assert any("ckpt-4" in record.getMessage() and "corrupt" in record.getMessage() for record in caplog.records)
    # Resumed at 2: steps 3-4 were trained again.
    assert [row["step"] for row in _csv_rows(tmp_path / "run")] == ["2", "4", "4", "6"]


def test_weights_are_written_atomically_and_a_truncated_file_is_named(tmp_path):
    model = build_stream_model("tiny", num_classes=3, input_size=32, num_scales=1)
    path = str(tmp_path / "last.weights.h5")
    runs.save_weights(model, path)
    before = open(path, "rb").read()

    class Killed(Exception):
        pass

    def dies_half_way(target):
        with open(target, "wb") as f:
            f.write(before[: len(before) // 2])
        raise Killed

    model.save_weights = dies_half_way
    with pytest.raises(Killed):
        runs.save_weights(model, path)
    assert open(path, "rb").read() == before  # the previous file is intact

    with open(path, "r+b") as f:
        f.truncate(len(before) // 2)
    with pytest.raises(ValueError, match="last.weights.h5"):
        runs.load_weights(build_stream_model("tiny", num_classes=3, input_size=32, num_scales=1), path)


def test_a_workdir_of_another_model_is_refused_and_its_config_kept(data_dir, tmp_path):
    helpers.bind_tiny()
    _train(data_dir, tmp_path / "run")
    config = (tmp_path / "run" / "operative_config.gin").read_bytes()
    run_json = (tmp_path / "run" / "run.json").read_bytes()
    gin.bind_parameter("build_stream_model.num_scales", 2)
    with pytest.raises(ValueError, match=r"build_stream_model.num_scales: 3 in the workdir, 2 now"):
        _train(data_dir, tmp_path / "run", total_steps=4)
    assert (tmp_path / "run" / "operative_config.gin").read_bytes() == config
    assert (tmp_path / "run" / "run.json").read_bytes() == run_json


def test_the_config_is_written_only_after_the_restore_succeeds(data_dir, tmp_path):
    helpers.bind_tiny()
    _train(data_dir, tmp_path / "run")
    config = (tmp_path / "run" / "operative_config.gin").read_bytes()
    for data_file in glob.glob(str(tmp_path / "run" / "checkpoints" / "ckpt-*.data-*")):
        with open(data_file, "r+b") as f:
            f.truncate(10)
    gin.bind_parameter("train.checkpoint_every", 3)  # a change outside the model: allowed
    with pytest.raises(ValueError, match="no intact checkpoint"):
        _train(data_dir, tmp_path / "run", total_steps=4, checkpoint_every=gin.REQUIRED)
    assert (tmp_path / "run" / "operative_config.gin").read_bytes() == config


def test_num_classes_defaults_to_the_datasets_and_run_json_describes_the_run(data_dir, tmp_path):
    helpers.bind_tiny()
    gin.parse_config("NUM_CLASSES = None\nbuild_stream_model.num_classes = %NUM_CLASSES")
    _train(data_dir, tmp_path / "run")
    info = runs.read_run_info(str(tmp_path / "run"))
    with open(os.path.join(data_dir, "dataset.json")) as f:
        dataset = json.load(f)
    assert info["num_classes"] == dataset["num_classes"] == helpers.NUM_CLASSES
    assert info["class_names"] == dataset["class_names"]
    assert (info["backbone"], info["modality"], info["input_size"], info["attention"], info["num_scales"]) == (
        "tiny", "rgb", helpers.SIZE, "pyramid", 3)
    assert info["new_length"] == 1
    assert runs.rebuild_model(info).output_shape == (None, helpers.NUM_CLASSES)


def test_a_multi_label_binding_that_disagrees_with_dataset_json_is_refused(data_dir, tmp_path):
    helpers.bind_tiny()
    gin.bind_parameter("build_stream_model.multi_label", True)  # the records are single-label
    with pytest.raises(ValueError, match="multi_label"):
        _train(data_dir, tmp_path / "run")


def test_best_without_validation_follows_the_classification_loss(data_dir, tmp_path):
    helpers.bind_tiny(learning_rate=0.05)
    _train(data_dir, tmp_path / "run", total_steps=8)
    rows = _csv_rows(tmp_path / "run")
    best_row = min(rows, key=lambda row: float(row["cross_entropy"]))
    kept = float((tmp_path / "run" / "best_metric.txt").read_text())
    assert kept == pytest.approx(-float(best_row["cross_entropy"]), rel=1e-6)
    assert kept != pytest.approx(-min(float(row["loss"]) for row in rows), rel=1e-6)
    for row in rows:  # each added loss and the accuracy are logged on their own
        for name in ("cross_entropy", "pyramid_attention_interaction_loss", "pyramid_attention_pyramid_loss",
                     "weight_decay", "accuracy"):
            assert row[name] != "", name


class _FakeStream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_shows_the_global_step_and_eta_live_only_on_a_terminal(monkeypatch):
    clock = iter([100.0, 101.0, 103.0])
    monkeypatch.setattr(loop.time, "time", lambda: next(clock))
    terminal = _FakeStream(tty=True)
    progress = loop._Progress(first_step=4, total_steps=10, stream=terminal)
    progress.update(5, 1.0)  # traced step: no rate yet
    progress.update(6, 1.0)  # 1 step in 1 s, 4 left
    text = progress.update(8, 0.5)  # 3 steps in 3 s, 2 left
    assert text == "step 8/10 (80%), ETA 0:00:02"
    assert terminal.getvalue().count("\r") == 3 and "\x1b" not in terminal.getvalue()

    piped = _FakeStream(tty=False)
    monkeypatch.setattr(loop.time, "time", lambda: 0.0)
    loop._Progress(0, 10, stream=piped).update(1, 1.0)
    assert piped.getvalue() == ""  # not a terminal: intervals are logged instead


def test_training_logs_intervals_with_step_and_eta_and_prints_no_ansi(data_dir, tmp_path, capsys, caplog):
    helpers.bind_tiny()
    with caplog.at_level(logging.INFO, logger="absl"):
        _train(data_dir, tmp_path / "run", total_steps=4, verbose=1)
    out = capsys.readouterr()
    assert "\x1b" not in out.out + out.err
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("step 4/4 (100%), ETA 0:00:00:") and "cross_entropy" in m for m in messages), messages

"""TensorBoard reads a training run's scalars (issue 17): started on a loopback port over a short run's logdir.

The series are read through TensorBoard's HTTP API (the scalars plugin), as the
browser does, and checked against train_log.csv and eq. 12's sum.
"""

import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import gin
import pytest

from iastp_tf.data.pipeline import make_dataset
from iastp_tf.models import build_stream_model
from iastp_tf.training.train import train
from tests.training import helpers

INTERACTION_WEIGHT, PYRAMID_WEIGHT = 0.5, 0.25  # large, so that eq. 12's sum tells them apart
STEPS, EVERY = 4, 2
STARTUP_S = 120  # TensorBoard's start and first load of the logdir


@pytest.fixture(autouse=True)
def _clear_gin():
    yield
    gin.clear_config()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_tensorboard_serves_every_training_scalar(tmp_path):
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=2)
    helpers.bind_tiny()
    gin.parse_config(f"build_stream_model.attention_kwargs = "
                     f"{{'interaction_weight': {INTERACTION_WEIGHT}, 'pyramid_weight': {PYRAMID_WEIGHT}}}")
    workdir = tmp_path / "run"
    train(workdir=str(workdir), data_dir=data_dir, model_fn=build_stream_model, dataset_fn=make_dataset,
          batch_size=4, seed=1, verbose=0, total_steps=STEPS, checkpoint_every=EVERY)
    with open(workdir / "train_log.csv") as f:
        rows = list(csv.DictReader(f))

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", f"--logdir={workdir / 'tensorboard'}", "--host=127.0.0.1",
         f"--port={port}", "--load_fast=false", "--reload_interval=1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/data/plugin/scalars"
        deadline, tags = time.monotonic() + STARTUP_S, {}
        while time.monotonic() < deadline and server.poll() is None:
            try:
                tags = _get(f"{base}/tags")
            except (urllib.error.URLError, ConnectionError):
                pass  # not listening yet
            if tags and len(next(iter(tags.values()))) >= len(rows[0]):
                break
            time.sleep(0.5)
        assert server.poll() is None, "TensorBoard exited"
        assert list(tags) == ["."], tags  # one run: the logdir itself
        names = set(tags["."])
        expected = {"loss", "cross_entropy", "extra_losses", "weight_decay", "accuracy", "learning_rate",
                    "pyramid_attention_interaction_loss", "pyramid_attention_pyramid_loss"}
        assert expected <= names, f"missing from TensorBoard: {sorted(expected - names)}"

        series = {}
        for tag in expected:
            query = urllib.parse.urlencode({"run": ".", "tag": tag})
            series[tag] = {step: value for _, step, value in _get(f"{base}/scalars?{query}")}
    finally:
        server.terminate()
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()

    for tag, values in series.items():  # the same numbers as train_log.csv, at the interval ends
        assert sorted(values) == [EVERY, STEPS], tag
        for row in rows:
            assert values[int(row["step"])] == pytest.approx(float(row[tag]), rel=1e-6), tag
    for step in (EVERY, STEPS):
        value = {tag: values[step] for tag, values in series.items()}
        # Eq. 12 on one replica: loss = cross-entropy + the layers' added losses + weight decay, and the
        # added losses are the weighted means of the two losses the layer tracks.
        assert value["loss"] == pytest.approx(value["cross_entropy"] + value["extra_losses"] + value["weight_decay"],
                                              rel=1e-5)
        assert value["extra_losses"] == pytest.approx(
            INTERACTION_WEIGHT * value["pyramid_attention_interaction_loss"]
            + PYRAMID_WEIGHT * value["pyramid_attention_pyramid_loss"], rel=1e-4)
        assert value["learning_rate"] == pytest.approx(0.03)  # helpers.bind_tiny's, before any boundary
        assert 0 <= value["accuracy"] <= 1

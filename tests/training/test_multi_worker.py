"""Two worker processes under MultiWorkerMirroredStrategy (TF_CONFIG on 127.0.0.1).

Both workers must agree on the weights after a few steps, and equal a
single-process run on the same global batch. A worker whose peer never starts
blocks forever and ignores SIGTERM, so each process runs under a hard time
limit and is ended by its pid with SIGKILL.
"""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.training import helpers

_TIME_LIMIT_S = 240
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(args, env, log_path):
    log = open(log_path, "w")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.training.multi_worker_main", *args],
        cwd=_REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )


def _wait_all(processes, logs):
    try:
        for process, log in zip(processes, logs):
            code = process.wait(timeout=_TIME_LIMIT_S)
            assert code == 0, f"worker failed with {code}:\n" + open(log).read()[-3000:]
    finally:
        for process in processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


def _weights(path):
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


@pytest.mark.slow
def test_two_workers_agree_and_match_one_process(tmp_path):
    data_dir = helpers.write_records(str(tmp_path), videos_per_class=2)
    env = {**os.environ, "PYTHONPATH": _REPO, "CUDA_VISIBLE_DEVICES": "-1"}
    env.pop("TF_CONFIG", None)

    single = _start([data_dir, str(tmp_path / "single"), "default", str(tmp_path / "single.npz")], env, tmp_path / "single.log")
    _wait_all([single], [tmp_path / "single.log"])

    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers, logs = [], []
    for index in range(2):
        worker_env = {**env, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        logs.append(tmp_path / f"worker{index}.log")
        workers.append(
            _start([data_dir, str(tmp_path / "multi"), "multi_worker", str(tmp_path / f"worker{index}.npz")], worker_env, logs[-1])
        )
    _wait_all(workers, logs)

    reference = _weights(tmp_path / "single.npz")
    first, second = _weights(tmp_path / "worker0.npz"), _weights(tmp_path / "worker1.npz")
    for a, b, c in zip(first, second, reference):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-5)
    assert os.path.exists(tmp_path / "multi" / "last.weights.h5")  # the chief writes the workdir

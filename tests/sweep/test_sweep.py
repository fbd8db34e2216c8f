"""Sweeps end to end on synthetic records with the tiny backbone (issue 18).

A 2 x 2 grid (a macro, ``NUM_SCALES``, and a scoped parameter,
``train/make_dataset.num_segments``), two training steps per point: each
point's workdir and operative config, its table row against a separate
``evaluate`` run, and a sweep killed for real (SIGKILL) in its third point,
then finished by two shards, against the unsharded table.
"""

import csv
import os
import signal
import subprocess
import sys
import time

import gin
import pytest

from iastp_tf.evaluation.evaluate import evaluate
from iastp_tf.sweep.run import run_sweep
from tests.sweep import tiny

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The grid's points, written out independently of the code under test.
POINTS = [(name, scales, segments) for name, (scales, segments) in
          zip(tiny.POINT_NAMES, [(1, 1), (1, 2), (2, 1), (2, 2)])]


@pytest.fixture(autouse=True)
def _clear_gin():
    yield
    gin.clear_config()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tiny.write_base(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def unsharded(base, tmp_path_factory):
    root = tmp_path_factory.mktemp("unsharded")
    rows = run_sweep([base], str(root), sweeps=tiny.SWEEPS, in_process=True)
    gin.clear_config()
    return root, rows


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _summary(root, name):
    return root / name / "eval_test" / "summary.json"


@pytest.mark.slow
def test_each_point_has_its_workdir_bindings_and_row(base, unsharded, tmp_path):
    root, rows = unsharded
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(tiny.POINT_NAMES)
    table = _read_csv(root / "results.csv")
    assert [row["point"] for row in table] == tiny.POINT_NAMES
    assert len((root / "results.md").read_text().strip().splitlines()) == 2 + len(POINTS)
    for row, (name, scales, segments) in zip(table, POINTS):
        gin.clear_config()
        gin.parse_config((root / name / "operative_config.gin").read_text())
        assert gin.query_parameter("%NUM_SCALES") == scales
        assert gin.query_parameter("train/make_dataset.num_segments") == segments
        assert gin.query_parameter("train.workdir") == str(root / name)
        assert (row["NUM_SCALES"], row["train/make_dataset.num_segments"]) == (str(scales), str(segments))
        # A separate evaluation of the same workdir, configured by hand.
        gin.clear_config()
        gin.parse_config_files_and_bindings(
            [base], [f"NUM_SCALES = {scales}", f"train/make_dataset.num_segments = {segments}"]
        )
        summary = evaluate(workdir=str(root / name), output_dir=str(tmp_path / name))
        assert float(row["mAP"]) == pytest.approx(summary["mAP"], abs=1e-12)
        assert float(row["wAP"]) == pytest.approx(summary["wAP"], abs=1e-12)
        assert f"--workdir={root / name}" in row["command"] and f"NUM_SCALES = {scales}" in row["command"]
    assert len({row["mAP"] for row in table}) > 1  # the rows are told apart by their numbers
    assert [row["mAP"] for row in rows] == [pytest.approx(float(row["mAP"])) for row in table]


def _kill_during_third_point(base, root, log):
    """Runs the sweep program; SIGKILLs it (and anything it started) once the third point is training."""
    command = [sys.executable, os.path.join(_REPO, "experiments", "sweep.py"), "--in_process", f"--gin_file={base}",
               *(f"--sweep={s}" for s in tiny.SWEEPS), f"--workdir={root}"]
    env = {**os.environ, "PYTHONPATH": _REPO}
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=_REPO, env=env, start_new_session=True,
                                   stdout=output, stderr=subprocess.STDOUT)
        third = root / tiny.POINT_NAMES[2] / "operative_config.gin"  # written when its training starts
        deadline = time.monotonic() + 600
        while not third.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if process.poll() is not None:
            pytest.fail(f"the sweep ended before its third point:\n{open(log).read()[-3000:]}")
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL


@pytest.mark.slow
def test_killed_sweep_resumes_and_two_shards_give_the_unsharded_table(base, unsharded, tmp_path):
    root = tmp_path / "sweep"
    _kill_during_third_point(base, root, tmp_path / "killed.log")
    assert [_summary(root, name).exists() for name in tiny.POINT_NAMES] == [True, True, False, False]
    assert not (root / "results.csv").exists()
    finished = {name: {f: os.stat(root / name / f).st_mtime_ns
                       for f in ("last.weights.h5", "train_log.csv", "eval_test/summary.json")}
                for name in tiny.POINT_NAMES[:2]}

    # Shard 0/2 (points 0 and 2): point 0 is finished, point 2 resumes; the table waits for point 3.
    assert run_sweep([base], str(root), sweeps=tiny.SWEEPS, shard="0/2", in_process=True) is None
    assert [_summary(root, name).exists() for name in tiny.POINT_NAMES] == [True, True, True, False]
    assert not (root / "results.csv").exists()
    # Shard 1/2 (points 1 and 3), each point in its own process (the default): the last point writes the table.
    rows = run_sweep([base], str(root), sweeps=tiny.SWEEPS, shard="1/2")
    assert len(rows) == len(POINTS)

    for name, mtimes in finished.items():  # the first two points were not trained or evaluated again
        assert {f: os.stat(root / name / f).st_mtime_ns for f in mtimes} == mtimes
        assert len(_read_csv(root / name / "train_log.csv")) == 1
    unsharded_root, _ = unsharded
    expected = [{**row, "command": row["command"].replace(str(unsharded_root), str(root))}
                for row in _read_csv(unsharded_root / "results.csv")]
    assert _read_csv(root / "results.csv") == expected


@pytest.mark.slow
def test_collect_writes_the_table_of_finished_points_only(base, unsharded, tmp_path):
    unsharded_root, _ = unsharded
    root = tmp_path / "sweep"
    finished = root / tiny.POINT_NAMES[1]
    os.makedirs(finished.parent)
    os.symlink(unsharded_root / tiny.POINT_NAMES[1], finished)
    rows = run_sweep([base], str(root), sweeps=tiny.SWEEPS, collect=True)
    assert [row["point"] for row in rows] == tiny.POINT_NAMES
    assert [row["mAP"] is None for row in rows] == [True, False, True, True]
    table = _read_csv(root / "results.csv")
    assert [row["mAP"] for row in table] == ["", _read_csv(unsharded_root / "results.csv")[1]["mAP"], "", ""]
    assert sorted(os.listdir(root)) == sorted([tiny.POINT_NAMES[1], "results.csv", "results.md"])  # nothing trained

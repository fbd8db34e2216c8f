"""The analysis programs (Figs. 4-7, Tables 7/8) run as a user runs them.

Each writes a PNG that decodes to the size it prints, and tables whose numbers
match the score files or the model.
"""

import csv
import json
import os
import re
import subprocess
import sys

import cv2
import gin
import numpy as np
import pytest

from tests.analysis.synthetic_scores import CLASS_NAMES, designed_predictions, write_score_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = 32


@pytest.fixture(autouse=True)
def _clear_gin():
    yield
    gin.clear_config()  # load_trained_stream parses a run's config


def _run(tool, *args):
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", tool), *args],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _written_pngs(stdout):
    """``{path: (width, height)}`` from the programs' ``wrote X (WxH px)`` lines."""
    found = re.findall(r"wrote (\S+\.png) \((\d+)x(\d+) px\)", stdout)
    assert found, stdout
    return {path: (int(w), int(h)) for path, w, h in found}


def _assert_pngs(stdout):
    for path, size in _written_pngs(stdout).items():
        image = cv2.imread(path)
        assert image is not None and image.std() > 0 and os.path.getsize(path) > 0
        assert (image.shape[1], image.shape[0]) == size


@pytest.fixture
def score_files(tmp_path):
    labels, before, after = designed_predictions()
    write_score_file(tmp_path / "before.npz", labels, before, seed=1)
    write_score_file(tmp_path / "after.npz", labels, after, seed=2, shuffle=True)
    return str(tmp_path / "before.npz"), str(tmp_path / "after.npz"), (labels, before, after)


def test_class_gains_tool(tmp_path, score_files):
    before_path, after_path, (labels, before, after) = score_files
    prefix = str(tmp_path / "out" / "gains")
    stdout = _run("class_gains.py", f"--before={before_path}", f"--after={after_path}",
                  f"--output_prefix={prefix}", "--top=3")
    _assert_pngs(stdout)
    assert "| Archery | 10 | 50.0 | 90.0 | +40.0 |" in stdout  # the Markdown is printed too
    with open(prefix + ".csv") as f:
        for row in csv.DictReader(f):
            c = list(CLASS_NAMES).index(row["class"])
            accuracy = [100 * np.mean(p[labels == c] == c) for p in (before, after)]
            assert float(row["change"]) == pytest.approx(accuracy[1] - accuracy[0])


def test_confusion_difference_tool(tmp_path, score_files):
    before_path, after_path, (labels, before, after) = score_files
    prefix = str(tmp_path / "fig5")
    stdout = _run("plot_confusion_diff.py", f"--before={before_path}", f"--after={after_path}",
                  f"--output_prefix={prefix}")
    _assert_pngs(stdout)
    with open(prefix + ".csv") as f:
        rows = list(csv.reader(f))
    names = rows[0][1:]
    total = {name: 0 for name in names}
    for row in rows[1:]:
        for name, value in zip(names, row[1:]):
            total[name] += int(value)
    assert set(total.values()) == {0}  # columns are true classes: each keeps its videos
    for i, name in enumerate(names):  # diagonal: right before − right after
        c = list(CLASS_NAMES).index(name)
        mine = labels == c
        assert int(rows[1 + i][1 + i]) == np.sum(before[mine] == c) - np.sum(after[mine] == c)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A workdir as training leaves it (run.json + weights) and its records."""
    from iastp_tf import runs as runs_lib
    from iastp_tf.data.dataset_info import read_dataset_info
    from iastp_tf.data.prepare.synthetic import write_synthetic_dataset
    from iastp_tf.models import build_stream_model

    root = tmp_path_factory.mktemp("run")
    data_dir = str(root / "data")
    write_synthetic_dataset(data_dir, num_classes=3, videos_per_class=2, frames=8, size=SIZE, with_flow=False)
    runs = []
    for scales in (1, 3):
        workdir = root / f"scales{scales}"
        model_kwargs = dict(backbone="tiny", num_classes=3, num_scales=scales, input_size=SIZE,
                            modality="rgb", attention="pyramid")
        model = build_stream_model(**model_kwargs)
        input_kwargs = dict(backbone="tiny", modality="rgb", input_size=SIZE, num_segments=3)
        runs_lib.write_run_info(str(workdir), runs_lib.make_run_info(
            model, read_dataset_info(data_dir), "build_stream_model", model_kwargs, input_kwargs, data_dir))
        model.save_weights(str(workdir / "last.weights.h5"))
        runs.append(str(workdir))
    return data_dir, runs


@pytest.mark.slow
def test_frames_sweep_tool(tmp_path, trained_run):
    from iastp_tf.analysis.trained import load_trained_stream
    from iastp_tf.data.pipeline import make_dataset
    from iastp_tf.evaluation.evaluate import evaluate_model

    data_dir, (_, workdir) = trained_run
    prefix = str(tmp_path / "fig4")
    stdout = _run("plot_frames_sweep.py", f"--workdir={workdir}", f"--data_dir={data_dir}",
                  f"--output_prefix={prefix}", "--frames=1,4")
    _assert_pngs(stdout)
    with open(prefix + ".csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["frames"]) for row in rows] == [1, 4]
    model = load_trained_stream(workdir, "last").model
    dataset = make_dataset(data_dir, "test", batch_size=2, training=False, num_segments=4, input_size=SIZE)
    _, labels, scores = evaluate_model(model, dataset)
    assert float(rows[1]["top1"]) == pytest.approx(np.mean(np.argmax(scores, axis=1) == labels), abs=1e-6)


@pytest.mark.slow
def test_salient_fields_tool(tmp_path, trained_run):
    from iastp_tf.analysis import salient
    from iastp_tf.analysis.salient_plot import video_frames
    from iastp_tf.analysis.trained import load_trained_stream

    data_dir, workdirs = trained_run
    prefix = str(tmp_path / "salient")
    stdout = _run("plot_salient_fields.py", f"--workdirs={','.join(workdirs)}", f"--data_dir={data_dir}",
                  f"--output_prefix={prefix}", "--num_frames=3", "--normalization=column_range",
                  "--output_threshold=0.9", "--checkpoint=last")
    assert len(_written_pngs(stdout)) == 2
    _assert_pngs(stdout)
    with open(prefix + ".csv") as f:
        rows = [row for row in csv.DictReader(f) if row["figure"] == "fig6"]
    assert {row["model"] for row in rows} == {"1 scale", "3 scales"}
    _, _, frames = video_frames(data_dir, 3, input_size=SIZE)
    model = load_trained_stream(workdirs[1], "last").model
    attention = salient.attention_matrices(model, frames[None])[0]
    expected = salient.salient_for_output(attention, 3, (2, 2), (0, 0), 0.9, "column_range")
    got = {(int(r["frame"]), int(r["input_row"]), int(r["input_col"])) for r in rows if r["model"] == "3 scales"}
    assert got == {tuple(int(i) for i in index) for index in np.argwhere(expected)}


def _run_demo_figures(demo_dir):
    result = subprocess.run(
        ["bash", os.path.join(REPO, "tools", "demo_figures.sh"), str(demo_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": REPO, "PYTHON": sys.executable, "DEMO_FIG4_FRAMES": "1,3"},
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.slow
def test_demo_figures_writes_every_figure_of_a_demo_folder(tmp_path, trained_run):
    import shutil

    data_dir, workdirs = trained_run
    demo = tmp_path / "demo"
    shutil.copytree(data_dir, demo / "records")
    for workdir in workdirs:
        shutil.copytree(workdir, demo / "runs" / os.path.basename(workdir))
    labels, before, after = designed_predictions()
    baseline = demo / "runs" / "tsn"
    (baseline / "eval_test").mkdir(parents=True)
    (baseline / "run.json").write_text(json.dumps({"model_fn": "build_stream_model", "modality": "rgb",
                                                   "attention": "none", "num_scales": 0, "data_dir": None}))
    (baseline / "last.weights.h5").write_bytes(b"")  # only the scores are read
    write_score_file(baseline / "eval_test" / "scores.npz", labels, before, seed=1)
    (demo / "runs" / "scales3" / "eval_test").mkdir()
    write_score_file(demo / "runs" / "scales3" / "eval_test" / "scores.npz", labels, after, seed=2)

    returncode, output = _run_demo_figures(demo)
    assert returncode == 0, output[-3000:]
    figures = demo / "figures"
    for name in ("fig4_frames_sweep.png", "fig4_frames_sweep.csv", "fig5_confusion_diff.png",
                 "fig5_confusion_diff.csv", "tables7_8_class_gains.md", "tables7_8_class_gains.csv",
                 "salient_fig6.png", "salient_fig7.png", "salient.csv"):
        assert (figures / name).stat().st_size > 0, name
    _assert_pngs(output)
    assert f"figures are in {figures}" in output
    assert "| Archery | 10 | 50.0 | 90.0 | +40.0 |" in (figures / "tables7_8_class_gains.md").read_text()


def test_demo_figures_says_what_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    returncode, output = _run_demo_figures(tmp_path / "empty")
    assert returncode != 0
    assert "no RGB run with pyramid attention" in output
    assert "without attention" in output and "no figure could be drawn" in output
    returncode, output = _run_demo_figures(tmp_path / "absent")
    assert returncode != 0 and "run 'make demo'" in output

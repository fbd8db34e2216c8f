"""The experiments programs: one error line for expected failures, quiet normal output (issue 12 rows 15, 20)."""

import os
import subprocess
import sys

import pytest

from iastp_tf.data.prepare.synthetic import write_synthetic_dataset

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _program(name, *args):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, os.path.join("experiments", f"{name}.py"), *args],
        cwd=_REPO, capture_output=True, text=True, timeout=300, env={**env, "PYTHONPATH": _REPO},
    )
    err = result.stderr.splitlines()  # TensorFlow's native start-up lines included: the programs filter them
    return result.returncode, result.stdout, err


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, args, message",
    [
        ("train", ["--gin_file=gin/nope.gin", "--workdir=unused"], "Unable to open file: gin/nope.gin"),
        ("train", ["--gin_file=gin/demo/rgb.gin", "--gin_bindings=train.nope = 1"], "doesn't have a parameter named 'nope'"),
        ("evaluate", ["--gin_file=gin/demo/rgb.gin", "--gin_bindings=DATA_DIR = '{tmp}'", "--workdir={tmp}"],
         "has no dataset.json"),
        ("evaluate", ["--gin_file=gin/demo/rgb.gin"], "Required bindings for `evaluate` not provided in config: ['workdir']"),
    ],
)
def test_an_expected_failure_prints_one_error_line_and_exits_2(tmp_path, name, args, message):
    code, _, err = _program(name, *(arg.format(tmp=tmp_path) for arg in args))
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


@pytest.mark.slow
def test_train_shows_step_and_eta_without_library_noise_or_ansi(tmp_path):
    data_dir = str(tmp_path / "data")
    write_synthetic_dataset(data_dir, num_classes=4, videos_per_class=1, frames=8, size=32)
    code, out, err = _program(
        "train", "--gin_file=gin/demo/rgb.gin", f"--gin_bindings=DATA_DIR = '{data_dir}'",
        "--gin_bindings=train.total_steps = 2", "--gin_bindings=train.checkpoint_every = 1",
        "--gin_bindings=train.batch_size = 4", f"--workdir={tmp_path / 'run'}",
    )
    assert code == 0, err
    assert "\x1b" not in out + "".join(err)
    assert len(err) == 2 and all("loop.py" in line for line in err), err  # one line per interval, nothing else
    assert "step 2/2 (100%), ETA" in err[1] and "cross_entropy" in err[1] and "accuracy" in err[1]

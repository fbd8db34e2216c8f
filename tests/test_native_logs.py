"""TensorFlow's native start-up lines stay out of the programs' output (issue 12 row 20)."""

import os
import subprocess
import sys

import pytest

from iastp_tf.native_logs import is_noise

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("line, noise", [
    ("I0000 00:00:1796094888.711991   31589 cudart_stub.cc:31] Could not find cuda drivers on your machine", True),
    ("W0000 00:00:1796094888.711991   31589 port.cc:153] oneDNN custom operations are on.", True),
    ("E0000 00:00:1796094894.942805   31589 cuda_platform.cc:52] failed call to cuInit: INTERNAL", True),
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", True),
    ("E1201 03:20:11.123456   31589 op_kernel.cc:1830] OP_REQUIRES failed: out of memory", False),
    ("F0000 00:00:1796094894.942805   31589 cuda_platform.cc:52] fatal", False),
    ("error: data_dir 'x' has no dataset.json", False),
    ("I1201 03:20:11.123456 140234 loop.py:301] step 20/40, ETA 0:00:12", False),  # absl's Python logging
    ("Traceback (most recent call last):", False),
])
def test_only_native_info_and_cuda_probe_lines_are_noise(line, noise):
    assert is_noise(line) is noise


def _program(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": _REPO, **env})


_IMPORT_TF = (
    "from iastp_tf.native_logs import filter_native_logs; filter_native_logs()\n"
    "import sys, tensorflow as tf; tf.constant(1.0) + 1\n"
    "print('error: the one line', file=sys.stderr)\n"
)


@pytest.mark.slow
def test_a_program_prints_only_its_own_lines_and_the_switch_shows_everything():
    filtered = _program(_IMPORT_TF, IASTP_NATIVE_LOGS="0")
    assert filtered.returncode == 0
    assert filtered.stderr.strip().splitlines() == ["error: the one line"]
    everything = _program(_IMPORT_TF, IASTP_NATIVE_LOGS="1")
    assert any(is_noise(line) for line in everything.stderr.splitlines())  # the filter did remove something
    assert "error: the one line" in everything.stderr


def test_the_last_lines_of_an_aborting_program_are_kept():
    aborting = _program(
        "from iastp_tf.native_logs import filter_native_logs; filter_native_logs()\n"
        "import os, sys; sys.stderr.write('F1201 fatal: last words\\n'); sys.stderr.flush(); os.abort()\n",
        IASTP_NATIVE_LOGS="0",
    )
    assert aborting.returncode != 0
    assert "last words" in aborting.stderr

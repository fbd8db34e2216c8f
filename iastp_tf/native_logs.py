"""Keeps TensorFlow's native start-up lines out of a program's output (issue 12 row 20).

TensorFlow 2.21 logs its device probes (``cudart_stub.cc: Could not find cuda
drivers``, ``cuInit`` failures, oneDNN and CPU-feature notices) from C++
before ``absl::InitializeLog()`` runs, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide
them. :func:`filter_native_logs` puts a small filter process between the
program's file descriptor 2 and the terminal: it drops native INFO/WARNING
lines (``I0000 ...``, ``W0000 ...``), the CUDA-probe errors and absl's
pre-initialisation banner, and passes everything else through. The filter is
a separate process, so a program that aborts inside TensorFlow still has its
last lines shown (the filter reads to the end of the pipe). Set
``IASTP_NATIVE_LOGS=1`` to see every line.
"""

import os
import re
import subprocess
import sys

# A native log line: severity letter, MMDD, time, thread id, C++ source file:line, "]". absl's Python
# logging writes the same prefix with a .py source; those lines are the program's own and stay.
NATIVE_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ (?P<source>[\w.]+\.(cc|h|cpp)):\d+\] ")
# Native errors that are probes, not failures: no CUDA driver on a CPU machine.
PROBE_SOURCES = ("cuda_platform.cc", "cuda_executor.cc", "cuda_diagnostics.cc", "cudart_stub.cc")
BANNERS = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "To enable the following instructions:",  # second line of cpu_feature_guard's notice
)


def is_noise(line: str) -> bool:
    """True for a native start-up line that :func:`filter_native_logs` drops."""
    if any(line.startswith(banner) for banner in BANNERS):
        return True
    match = NATIVE_LINE.match(line)
    if match is None:
        return False
    return line[0] in "IW" or (line[0] == "E" and match.group("source") in PROBE_SOURCES)


_FILTER = f"""
import sys
sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r})
from iastp_tf.native_logs import is_noise
for line in sys.stdin.buffer:
    text = line.decode("utf-8", "replace")
    if not is_noise(text):
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
"""


def filter_native_logs() -> None:
    """Routes this process's stderr (fd 2) through the filter; call before importing TensorFlow.

    Does nothing when ``IASTP_NATIVE_LOGS=1`` or when already filtered (the
    filter's pipe is inherited by child processes).
    """
    if os.environ.get("IASTP_NATIVE_LOGS") == "1" or os.environ.get("_IASTP_LOGS_FILTERED") == "1":
        return
    sys.stderr.flush()
    stderr_copy = os.dup(2)
    filter_process = subprocess.Popen(
        [sys.executable, "-c", _FILTER], stdin=subprocess.PIPE, stdout=stderr_copy, stderr=stderr_copy,
        close_fds=True,
    )
    os.close(stderr_copy)
    os.dup2(filter_process.stdin.fileno(), 2)
    filter_process.stdin.close()  # fd 2 now holds the pipe; the filter sees EOF when this process ends
    os.environ["_IASTP_LOGS_FILTERED"] = "1"

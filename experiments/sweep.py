"""Trains and evaluates a grid of configurations, one workdir per point, and writes the results table (issue 18).

``python experiments/sweep.py --gin_file=gin/sweeps/table2_scales.gin --workdir=runs/table2``
or, with the grid on the command line,
``python experiments/sweep.py --gin_file=gin/ucf101/table4_irv2_rgb_both.gin \
--sweep="NUM_SCALES=[1, 2, 3]" --workdir=runs/scales``.
Re-running resumes; ``--shard=i/n`` on n machines covers the grid; ``--collect`` writes
``<workdir>/results.{md,csv}`` from what is finished.
"""

import os

from absl import app, flags

import gin_flags
from iastp_tf.sweep.run import run_sweep

SWEEPS = flags.DEFINE_multi_string(
    "sweep", [], "An axis of the grid, NAME=[v1, v2, ...] in gin syntax; tied names: \"A, B=[(a1, b1), (a2, b2)]\"."
)
SHARD = flags.DEFINE_string("shard", None, "i/n: run every n-th point starting at point i.")
COLLECT = flags.DEFINE_bool("collect", False, "Train nothing; write the results table of the finished points.")
IN_PROCESS = flags.DEFINE_bool("in_process", False, "Run points in this process (debugging) instead of subprocesses.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if gin_flags.WORKDIR.value is None:
        raise app.UsageError("--workdir (the sweep's root folder) is required")
    try:
        rows = run_sweep(
            gin_flags.GIN_FILES.value,
            gin_flags.WORKDIR.value,
            gin_bindings=gin_flags.GIN_BINDINGS.value,
            sweeps=SWEEPS.value,
            shard=SHARD.value,
            collect=COLLECT.value,
            search_paths=[gin_flags.REPO_ROOT],
            in_process=IN_PROCESS.value,
        )
    except (ValueError, RuntimeError) as error:  # a bad grid (nothing trained), or points that failed
        raise SystemExit(f"error: {error}") from None
    if rows is not None:
        print(open(os.path.join(gin_flags.WORKDIR.value, "results.md")).read(), end="")


if __name__ == "__main__":
    app.run(main)

"""Runs a sweep: every grid point trained and evaluated in its own workdir (issue 18).

For a base configuration (gin files, then bindings) and a grid
(:mod:`iastp_tf.sweep.grid`), point ``p`` runs the gin entries
``train()`` then ``evaluate()`` in ``<root>/<p.name>`` under a fresh gin
config: ``gin.clear_config()``, the base files, the base bindings,
``train.workdir``/``evaluate.workdir``, then the point's bindings (last, so
they win; ``train`` writes them into the run's ``operative_config.gin``).

Resumption: a point is finished when its evaluation summary
(``eval_<split>/summary.json``) exists; a rerun skips finished points and
reruns the others in the same workdir, where training resumes from its
checkpoints. Sharding: ``shard=(i, n)`` runs points ``i, i+n, i+2n, ...``.
Whenever every point is finished (or ``collect=True``) the results table is
written (:mod:`iastp_tf.sweep.results`). Every point's config is parsed
before anything trains, so a bad grid fails at once.

Each point runs in a subprocess (``python -m iastp_tf.sweep.point``) by
default: gin, Keras and TensorFlow keep process-wide state (dtype policy,
layer-name counters, memory) that one point must not leave to the next, and a
point's start-up is nothing next to training it (``benchmarks/sweep_bench.py``:
27 s per point on the loaded 2-core development machine, against hours of
training). ``in_process=True`` runs points in this process (3.3x faster for
the tiny points of the tests).
"""

import dataclasses
import json
import os
import shlex
import subprocess
import sys

import gin
import keras
from absl import logging

import iastp_tf
import iastp_tf.configurables  # noqa: F401  registers what gin files name
from iastp_tf.evaluation.evaluate import evaluate
from iastp_tf.sweep import grid as grid_lib
from iastp_tf.sweep import results as results_lib
from iastp_tf.training.train import train

POINT_FILE = "sweep_point.json"


@dataclasses.dataclass(frozen=True)
class PointRun:
    """Everything one point's run needs: the base gin files and bindings, and the point's bindings."""

    name: str
    workdir: str
    gin_files: tuple[str, ...]
    gin_bindings: tuple[str, ...]
    point_bindings: tuple[tuple[str, str], ...]
    search_paths: tuple[str, ...] = ()

    def point_lines(self) -> list[str]:
        """The point's bindings as gin statements, e.g. ``["NUM_SCALES = 2"]``."""
        return grid_lib.binding_lines(self.point_bindings)

    def bindings(self) -> list[str]:
        """All bindings after the files, in order: base, workdir, then the point's (which win)."""
        workdir = [f"train.workdir = {self.workdir!r}", f"evaluate.workdir = {self.workdir!r}"]
        return [*self.gin_bindings, *workdir, *self.point_lines()]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        fields = json.loads(text)
        fields["point_bindings"] = tuple(tuple(binding) for binding in fields["point_bindings"])
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in fields.items()})


def parse_config(gin_files, bindings, search_paths=()) -> None:
    """A fresh gin config: clear, add search paths, parse the files then the bindings."""
    gin.clear_config()
    for path in search_paths:
        gin.add_config_file_search_path(path)
    gin.parse_config_files_and_bindings(list(gin_files), list(bindings))


def _query(selector, default):
    try:
        return gin.query_parameter(selector)
    except ValueError:
        return default


def _has_macro(name) -> bool:
    try:
        gin.query_parameter(f"%{name}")
    except ValueError:
        return False
    return True


def summary_path(workdir) -> str:
    """Where ``evaluate`` (as configured now in gin) writes its ``summary.json`` for ``workdir``."""
    output_dir = _query("evaluate.output_dir", None)
    return os.path.join(output_dir or os.path.join(workdir, f"eval_{_query('evaluate.split', 'test')}"), "summary.json")


def read_summary(path):
    """The summary dict at ``path``, or None when missing or cut short (an interrupted write)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def plan_points(gin_files, gin_bindings=(), sweeps=(), root=None, search_paths=()) -> list[tuple[PointRun, str]]:
    """Every point's :class:`PointRun` and summary path; raises ValueError on a bad grid.

    Each point's full config is parsed here (nothing is built or trained):
    an unknown configurable or parameter, a macro the base config does not
    define, a value gin cannot parse, or an empty list fails before any
    point runs, with one line naming the binding.
    """
    if not root:
        raise ValueError("sweep: workdir (the sweep's root folder) is required")
    parse_config(gin_files, gin_bindings, search_paths)
    axes = grid_lib.grid_axes(_query(f"%{grid_lib.GRID_MACRO}", None), sweeps)
    for name in (name for axis in axes for name in axis.names if "." not in name):
        if not _has_macro(name):  # gin would accept the binding as a new, unused macro
            raise ValueError(f"sweep: unknown binding name {name!r}: no macro {name} in the base config")
    planned = []
    for point in grid_lib.grid_points(axes):
        workdir = os.path.join(root, point.name)
        run = PointRun(
            name=point.name,
            workdir=workdir,
            gin_files=tuple(gin_files),
            gin_bindings=tuple(gin_bindings),
            point_bindings=point.bindings,
            search_paths=tuple(search_paths),
        )
        try:
            parse_config(run.gin_files, run.bindings(), search_paths)
        except Exception as error:  # gin raises ValueError, SyntaxError, tokenize.TokenError
            message = str(error).splitlines()[0]
            raise ValueError(f"sweep: point {point.name}: bad binding in {run.point_lines()}: {message}") from None
        planned.append((run, summary_path(workdir)))
    gin.clear_config()
    return planned


def run_point(run: PointRun) -> dict:
    """Trains then evaluates one point under a fresh gin config; returns the evaluation summary."""
    parse_config(run.gin_files, run.bindings(), run.search_paths)
    os.makedirs(run.workdir, exist_ok=True)
    with open(os.path.join(run.workdir, POINT_FILE), "w") as f:
        json.dump(dataclasses.asdict(run), f, indent=2)
    train()
    keras.backend.clear_session()
    return evaluate()


def _run_point_in_subprocess(run: PointRun) -> int:
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(iastp_tf.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "iastp_tf.sweep.point", run.to_json()], env=env).returncode


def reproduce_command(run: PointRun) -> str:
    """The train + evaluate commands that reproduce one point on their own."""
    flags = [f"--gin_file={path}" for path in run.gin_files]
    flags += [f"--gin_bindings={binding}" for binding in (*run.gin_bindings, *run.point_lines())]
    flags.append(f"--workdir={run.workdir}")
    quoted = " ".join(shlex.quote(flag) for flag in flags)
    return f"python experiments/train.py {quoted} && python experiments/evaluate.py {quoted}"


def run_sweep(
    gin_files,
    root,
    gin_bindings=(),
    sweeps=(),
    shard=None,
    collect=False,
    search_paths=(),
    in_process=False,
):
    """Trains and evaluates this shard's unfinished points; writes the results table when all are done.

    Args:
      gin_files: the base configuration's gin files, in order.
      root: the sweep folder; point ``p`` runs in ``root/p.name``.
      gin_bindings: bindings applied after the files, before each point's.
      sweeps: ``"NAME=[v1, v2, ...]"`` axes, added to (or replacing) the
        files' ``SWEEP_GRID`` axes.
      shard: ``"i/n"``: run points ``i, i+n, ...`` only; ``None`` runs all.
      collect: run nothing; write the table of the finished points.
      search_paths: folders gin ``include`` paths are resolved from.
      in_process: run points in this process instead of subprocesses.

    Returns:
      The table's rows (see :func:`iastp_tf.sweep.results.table_rows`), or
      ``None`` when points are still unfinished and ``collect`` is False.

    Raises:
      ValueError: a bad grid or shard (before anything runs).
      RuntimeError: some points failed (the others still ran).
    """
    index, count = grid_lib.parse_shard(shard) if shard is not None else (0, 1)
    planned = plan_points(gin_files, gin_bindings, sweeps, root, search_paths)
    failed = []
    if not collect:
        mine = planned[index::count]
        for number, (run, summary) in enumerate(mine, 1):
            if read_summary(summary) is not None:
                logging.info("sweep point %d/%d %s: finished, skipped", number, len(mine), run.name)
                continue
            logging.info("sweep point %d/%d %s: training and evaluating in %s",
                         number, len(mine), run.name, run.workdir)
            if in_process:
                keras.backend.clear_session()
                keras.config.set_dtype_policy("float32")
                run_point(run)
            elif _run_point_in_subprocess(run) != 0:
                failed.append(run.name)
        if failed:
            raise RuntimeError(f"sweep: points failed (rerun to retry them): {failed}")
    summaries = [read_summary(summary) for _, summary in planned]
    missing = [run.name for (run, _), s in zip(planned, summaries) if s is None]
    if missing and not collect:
        logging.info("sweep: %d of %d points unfinished; the table is written when all are done",
                     len(missing), len(planned))
        return None
    if missing:
        logging.warning("sweep: the table lacks the metrics of unfinished points %s", missing)
    rows = results_lib.table_rows([(run.name, run.point_bindings, summary, reproduce_command(run))
                                   for (run, _), summary in zip(planned, summaries)])
    results_lib.write_results(root, rows)
    logging.info("sweep: wrote %s", os.path.join(root, results_lib.MARKDOWN))
    return rows

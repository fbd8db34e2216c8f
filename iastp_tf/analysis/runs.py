"""Finding training runs and their score files under a folder (for the demo's figures).

A run is a folder with ``run.json`` and trained weights (``best.weights.h5``
or ``last.weights.h5``, see :mod:`iastp_tf.runs`); what kind of stream it
trained is read from ``run.json`` without building anything, and its test
scores are the ``scores.npz`` that ``experiments/evaluate.py`` writes (by
default under ``<run>/eval_test/``).
"""

import dataclasses
import glob
import os

from iastp_tf import runs


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a training run trained, read from its ``run.json``.

    Attributes:
      workdir: the run's folder.
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``.
      attention: ``"pyramid"``, ``"conv1x1"`` or ``"none"``.
      num_scales: pyramid levels (0 without attention).
      data_dir: the records the run trained on.
      scores: the run's test ``scores.npz`` if there is one, else ``None``.
    """

    workdir: str
    modality: str
    attention: str
    num_scales: int
    data_dir: str | None
    scores: str | None

    @property
    def has_pyramid(self) -> bool:
        return self.attention == "pyramid" and self.num_scales > 0


def read_run(workdir) -> RunInfo:
    """The :class:`RunInfo` of one single-stream run folder."""
    run_info = runs.read_run_info(workdir)
    scores = sorted(glob.glob(os.path.join(workdir, "eval_test*", "scores.npz")))
    return RunInfo(
        workdir=workdir,
        modality=run_info["modality"],
        attention=run_info["attention"],
        num_scales=int(run_info["num_scales"]),
        data_dir=run_info["data_dir"],
        scores=scores[0] if scores else None,
    )


def find_runs(root) -> list[RunInfo]:
    """Every single-stream run folder under ``root`` (any depth) with weights, sorted by path."""
    found = glob.glob(os.path.join(root, "**", runs.RUN_JSON), recursive=True)
    folders = [os.path.dirname(path) for path in sorted(found)]
    return [
        read_run(folder)
        for folder in folders
        if any(os.path.exists(os.path.join(folder, name)) for name in (runs.BEST_WEIGHTS, runs.LAST_WEIGHTS))
        and runs.read_run_info(folder)["model_fn"] == "build_stream_model"
    ]


def find_records(root) -> list[str]:
    """Every records folder (one holding ``dataset.json``) under ``root``, sorted."""
    found = glob.glob(os.path.join(root, "**", "dataset.json"), recursive=True)
    return sorted(os.path.dirname(path) for path in found)

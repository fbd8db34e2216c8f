"""Finding training runs and their score files under a folder (for the demo's figures).

A run is a folder with ``operative_config.gin`` and trained weights
(``best.weights.h5`` or ``last.weights.h5``, see :mod:`iastp_tf.training.workdir`;
an evaluation folder has the config but no weights); what kind of stream it trained is read from
that file's ``build_stream_model`` lines without building anything, and its
test scores are the ``scores.npz`` that ``experiments/evaluate.py`` writes
(by default under ``<run>/eval_test/``).
"""

import dataclasses
import glob
import os
import re

_BINDING = re.compile(r"^\s*(?:[\w/]+/)?(build_stream_model|train)\.(\w+)\s*=\s*(.+?)\s*$")
_MACRO = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(.+?)\s*$")


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a training run trained, read from its operative config.

    Attributes:
      workdir: the run's folder.
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``.
      attention: ``"pyramid"``, ``"conv1x1"`` or ``"none"``.
      num_scales: pyramid levels (0 without attention).
      data_dir: ``train.data_dir`` when the config names it, else ``None``.
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
    """The :class:`RunInfo` of one run folder (``build_stream_model`` defaults where unbound).

    Values may be gin macros (``build_stream_model.modality = %MODALITY``), as
    operative configs keep them; they are resolved from the file's macro lines.
    """
    values = {"modality": "'rgb'", "attention": "'pyramid'", "num_scales": "3", "data_dir": "None"}
    macros = {}
    with open(os.path.join(workdir, "operative_config.gin")) as f:
        for line in f:
            if match := _BINDING.match(line):
                function, name, value = match.groups()
                if function == "build_stream_model" or name == "data_dir":
                    values[name] = value
            elif match := _MACRO.match(line):
                macros[match.group(1)] = match.group(2)

    def value(name):
        text = values[name]
        while text.startswith("%"):
            text = macros.get(text[1:], "None")
        return None if text == "None" else text.strip("'\"")

    scores = sorted(glob.glob(os.path.join(workdir, "eval_test*", "scores.npz")))
    return RunInfo(
        workdir=workdir,
        modality=value("modality"),
        attention=value("attention"),
        num_scales=int(value("num_scales")),
        data_dir=value("data_dir"),
        scores=scores[0] if scores else None,
    )


def find_runs(root) -> list[RunInfo]:
    """Every run folder under ``root`` (any depth), sorted by path."""
    configs = glob.glob(os.path.join(root, "**", "operative_config.gin"), recursive=True)
    folders = [os.path.dirname(path) for path in sorted(configs)]
    return [
        read_run(folder)
        for folder in folders
        if any(os.path.exists(os.path.join(folder, f"{name}.weights.h5")) for name in ("best", "last"))
    ]


def find_records(root) -> list[str]:
    """Every records folder (one holding ``dataset.json``) under ``root``, sorted."""
    found = glob.glob(os.path.join(root, "**", "dataset.json"), recursive=True)
    return sorted(os.path.dirname(path) for path in found)

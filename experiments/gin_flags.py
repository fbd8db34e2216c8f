"""Flags shared by the experiments programs (SPEC §8): --gin_file, --gin_bindings, --workdir.

``--workdir`` is applied as the last gin binding of the program's entry
function (``train.workdir = ...``), so the operative config records it and a
gin file cannot silently disagree with it. Gin ``include`` paths resolve from
the repository root as well as the current directory.
"""

import os

import gin
from absl import flags

import iastp_tf.training.configurables  # noqa: F401  registers what gin files name

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GIN_FILES = flags.DEFINE_multi_string("gin_file", [], "Gin config files, applied in order.")
GIN_BINDINGS = flags.DEFINE_multi_string(
    "gin_bindings", [], "Gin bindings applied after the files, e.g. \"train.total_steps = 100\"."
)
WORKDIR = flags.DEFINE_string("workdir", None, "Run folder: checkpoints, logs, scores, exports.")


def parse_config(entry=None, extra_bindings=()) -> None:
    """Parses the gin files, then --gin_bindings, then ``extra_bindings`` (program flags).

    Args:
      entry: the program's gin entry; ``<entry>.workdir`` is bound from
        --workdir. ``None`` for a program without a workdir parameter.
      extra_bindings: bindings made from the program's own flags.
    """
    gin.add_config_file_search_path(REPO_ROOT)
    bindings = list(GIN_BINDINGS.value)
    if entry is not None and WORKDIR.value is not None:
        bindings.append(f"{entry}.workdir = {WORKDIR.value!r}")
    gin.parse_config_files_and_bindings(GIN_FILES.value, bindings + list(extra_bindings))

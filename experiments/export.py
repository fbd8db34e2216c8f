"""Exports a trained run as a SavedModel (SPEC §5): ``python experiments/export.py --gin_file=<same as train> --workdir=runs/rgb``.

The SavedModel (``<workdir>/export``) serves ``[batch, K, S, S, C]`` frames, K free.
An existing non-empty export folder is replaced only with ``--overwrite``.
"""

from absl import app, flags

import gin_flags
from iastp_tf.evaluation.export import export

OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing non-empty export folder.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    gin_flags.parse_config("export", extra_bindings=["export.overwrite = True"] if OVERWRITE.value else [])
    print(f"exported to {export()}")


if __name__ == "__main__":
    gin_flags.run(main)

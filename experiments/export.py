"""Exports a trained run as a SavedModel (SPEC §5): ``python experiments/export.py --gin_file=<same as train> --workdir=runs/rgb``.

The SavedModel (``<workdir>/export``) serves ``[batch, K, S, S, C]`` frames, K free.
"""

from absl import app

import gin_flags
from iastp_tf.evaluation.export import export


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    gin_flags.parse_config("export")
    print(f"exported to {export()}")


if __name__ == "__main__":
    app.run(main)

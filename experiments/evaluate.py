"""Scores a trained run on a split (SPEC §5): ``python experiments/evaluate.py --gin_file=<same as train> --workdir=runs/rgb``.

Writes ``<workdir>/eval_<split>/``: scores.npz, summary.json, confusion_matrix.csv.
"""

from absl import app

import gin_flags
from iastp_tf.evaluation.evaluate import evaluate


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    gin_flags.parse_config("evaluate")
    summary = evaluate()
    print(" ".join(f"{name}={value:.4f}" for name, value in summary.items() if isinstance(value, float)))


if __name__ == "__main__":
    gin_flags.run(main)

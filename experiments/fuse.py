"""Weighted late fusion of score files (SPEC §5)::

    python experiments/fuse.py --workdir=runs/fusion \
      --gin_bindings="fuse.score_files = ['runs/rgb/eval_test/scores.npz', 'runs/flow/eval_test/scores.npz']" \
      --gin_bindings="fuse.weights = [1.0, 1.5]"

Without weights, ``fuse.search_score_files`` (the same streams on a held-out
split) chooses them; without either, the weights are equal.
"""

from absl import app

import gin_flags
from iastp_tf.evaluation.fusion import fuse


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    gin_flags.parse_config("fuse")
    summary = fuse()
    print(f"weights {summary['weights']} ({summary['weights_chosen_by']}): {summary['fused']}")


if __name__ == "__main__":
    gin_flags.run(main)

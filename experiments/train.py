"""Trains one model (SPEC §5): ``python experiments/train.py --gin_file=gin/ucf101/irv2_rgb_3scales.gin --workdir=runs/rgb``.

Re-running the same command resumes at the last checkpoint. For several
machines set TF_CONFIG on each and add ``--gin_bindings="train.strategy = 'multi_worker'"``.
"""

from absl import app

import gin_flags
from iastp_tf.training.train import train


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    gin_flags.parse_config("train")
    train()


if __name__ == "__main__":
    gin_flags.run(main)

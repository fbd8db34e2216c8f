"""One worker of the multi-worker test: trains the tiny stream and saves its weights.

Usage: python -m tests.training.multi_worker_main DATA_DIR WORKDIR STRATEGY OUT.npz
(TF_CONFIG in the environment for STRATEGY=multi_worker).
"""

import sys

import numpy as np

from iastp_tf.data.pipeline import make_dataset
from iastp_tf.models import build_stream_model
from iastp_tf.training.train import train
from tests.training import helpers

TOTAL_STEPS = 3
GLOBAL_BATCH = 4


def main(data_dir, workdir, strategy, output):
    helpers.bind_tiny(learning_rate=0.05)
    train(
        workdir=workdir,
        data_dir=data_dir,
        model_fn=build_stream_model,
        dataset_fn=make_dataset,
        batch_size=GLOBAL_BATCH,
        total_steps=TOTAL_STEPS,
        checkpoint_every=TOTAL_STEPS,
        strategy=strategy,
        seed=1,
        verbose=0,
    )
    model = build_stream_model()
    model.load_weights(helpers.worker_weights_path(workdir))
    np.savez(output, *model.get_weights())


if __name__ == "__main__":
    main(*sys.argv[1:5])

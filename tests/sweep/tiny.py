"""A tiny base configuration for sweep tests: the tiny backbone on synthetic records, 2 steps per point."""

import os

from tests.training import helpers

BASE_GIN = """
NUM_SCALES = 3
DATA_DIR = {data_dir!r}
build_stream_model.backbone = 'tiny'
build_stream_model.num_classes = {num_classes}
build_stream_model.input_size = {size}
build_stream_model.num_scales = %NUM_SCALES
build_stream_model.dropout = 0.0
make_dataset.backbone = 'tiny'
make_dataset.input_size = {size}
train/make_dataset.num_segments = 3
eval/make_dataset.num_segments = 3
learning_rate_schedule.initial_learning_rate = 0.03
train.model_fn = @build_stream_model
train.dataset_fn = @make_dataset
train.data_dir = %DATA_DIR
train.batch_size = 4
train.total_steps = 2
train.checkpoint_every = 2
train.verbose = 0
evaluate.model_fn = @build_stream_model
evaluate.dataset_fn = @make_dataset
evaluate.data_dir = %DATA_DIR
"""

# The 2 x 2 grid of the tests: a macro and a scoped parameter.
SWEEPS = ("NUM_SCALES=[1, 2]", "train/make_dataset.num_segments=[1, 2]")
POINT_NAMES = ["NUM_SCALES=1,num_segments=1", "NUM_SCALES=1,num_segments=2",
               "NUM_SCALES=2,num_segments=1", "NUM_SCALES=2,num_segments=2"]


def write_base(directory) -> str:
    """Synthetic records and the base gin file; returns its path.

    Multi-label records (4 classes, one video each per split): after two
    steps every point still predicts about one class for all videos, so its
    top-1 is 1/4 everywhere, while mAP and wAP differ from point to point,
    which lets a table row be told apart from another.
    """
    data_dir = helpers.write_records(str(directory), videos_per_class=1, multi_label=True)
    path = os.path.join(str(directory), "base.gin")
    with open(path, "w") as f:
        f.write(BASE_GIN.format(data_dir=data_dir, num_classes=helpers.NUM_CLASSES, size=helpers.SIZE))
    return path

"""Shared set-up of the training tests: synthetic records and a tiny gin configuration."""

import os

import gin
import numpy as np

from iastp_tf.data.prepare.synthetic import write_synthetic_dataset
from iastp_tf.models import build_stream_model

NUM_CLASSES = 4
SIZE = 32


def write_records(directory, videos_per_class=4, **kwargs) -> str:
    """Synthetic records (4 classes, 8 frames of 32x32) under ``directory/data``."""
    data_dir = os.path.join(directory, "data")
    write_synthetic_dataset(
        data_dir, num_classes=NUM_CLASSES, videos_per_class=videos_per_class, frames=8, size=SIZE, **kwargs
    )
    return data_dir


def bind_tiny(learning_rate=0.03, dropout=0.0, attention="pyramid", modality="rgb"):
    """Gin bindings for a tiny stream on the synthetic records.

    SGD, β and γ as in the paper; no dropout, so that the tiny backbone learns
    the synthetic classes in a couple of hundred steps.
    """
    gin.clear_config()
    gin.parse_config(
        f"""
        build_stream_model.backbone = "tiny"
        build_stream_model.num_classes = {NUM_CLASSES}
        build_stream_model.input_size = {SIZE}
        build_stream_model.attention = "{attention}"
        build_stream_model.modality = "{modality}"
        build_stream_model.dropout = {dropout}
        make_dataset.backbone = "tiny"
        make_dataset.input_size = {SIZE}
        make_dataset.modality = "{modality}"
        learning_rate_schedule.initial_learning_rate = {learning_rate}
        """
    )


def final_weights(workdir) -> list[np.ndarray]:
    """The weights in ``workdir/last.weights.h5``, read into a fresh gin-configured model."""
    model = build_stream_model()
    model.load_weights(os.path.join(workdir, "last.weights.h5"))
    return [np.asarray(w) for w in model.get_weights()]


def initial_weights(seed=1) -> list[np.ndarray]:
    """The weights a run seeded with ``seed`` starts from."""
    import keras

    keras.utils.set_random_seed(seed)
    return [np.asarray(w) for w in build_stream_model().get_weights()]


def worker_weights_path(workdir) -> str:
    """This process's last weights: the chief's in workdir, other workers' in their scratch folder."""
    import json

    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    if task.get("index", 0) == 0:
        return os.path.join(workdir, "last.weights.h5")
    return os.path.join(workdir, "workers", f"worker_{task['index']}", "last.weights.h5")

"""What a run leaves in its workdir and reads from a records folder (SPEC §4-5).

A workdir holds ``operative_config.gin`` (every gin value the run used),
``checkpoints/`` (resumable state), ``last.weights.h5`` and ``best.weights.h5``
(model weights only, for evaluation and export), ``train_log.csv`` and
``tensorboard/``.
"""

import os

import gin

from iastp_tf.data import dataset_info as dataset_info_lib

CHECKPOINT_CHOICES = ("best", "last")


def read_metadata(data_dir, dataset_info=None) -> dict:
    """``dataset.json`` of ``data_dir`` (see :func:`iastp_tf.data.dataset_info.read_dataset_info`)."""
    return dataset_info_lib.read_dataset_info(data_dir, dataset_info)


def write_operative_config(workdir, name="operative_config.gin") -> str:
    """Writes ``gin.operative_config_str()`` to ``workdir/name`` and returns the path."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(gin.operative_config_str())
    return path


def check_num_classes(model, metadata):
    """ValueError when the model's logits do not match the dataset's classes."""
    outputs = model.output_shape[-1]
    if outputs != metadata["num_classes"]:
        raise ValueError(
            f"the model has {outputs} outputs but the dataset has {metadata['num_classes']} "
            "classes; set NUM_CLASSES (build_stream_model.num_classes) to match"
        )


def weights_path(workdir, checkpoint="best") -> str:
    """The weights file of ``checkpoint``: ``"best"`` (falls back to last), ``"last"``, or a path."""
    if checkpoint not in CHECKPOINT_CHOICES:
        if not os.path.exists(checkpoint):
            raise ValueError(f"checkpoint must be one of {CHECKPOINT_CHOICES} or a file, got {checkpoint!r}")
        return checkpoint
    best, last = (os.path.join(workdir, f"{n}.weights.h5") for n in CHECKPOINT_CHOICES)
    path = best if checkpoint == "best" and os.path.exists(best) else last
    if not os.path.exists(path):
        raise ValueError(f"no {checkpoint} weights in workdir {workdir!r} (train first)")
    return path

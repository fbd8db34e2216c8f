"""What a run leaves in its workdir and reads from a records folder (SPEC §4-5).

A workdir holds ``operative_config.gin`` (every gin value the run used),
``checkpoints/`` (resumable state), ``last.weights.h5`` and ``best.weights.h5``
(model weights only, for evaluation and export), ``train_log.csv`` and
``tensorboard/``.
"""

import json
import os

import gin

CHECKPOINT_CHOICES = ("best", "last")


def read_metadata(data_dir, dataset_info=None) -> dict:
    """``dataset.json`` of a records folder (SPEC §4), or ``dataset_info`` when given.

    ``dataset_info`` stands in for data without a ``dataset.json`` (CIFAR-100
    from TFDS): at least ``num_classes`` and ``splits``; class names default
    to ``class_000``, ``class_001``, ...
    """
    if dataset_info is not None:
        info = dict(dataset_info)
        info.setdefault("class_names", [f"class_{c:03d}" for c in range(info["num_classes"])])
        return info
    path = os.path.join(data_dir, "dataset.json")
    if not os.path.exists(path):
        raise ValueError(f"data_dir has no dataset.json: {data_dir!r}")
    with open(path) as f:
        return json.load(f)


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

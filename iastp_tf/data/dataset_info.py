"""``dataset.json``: what a dataset directory holds (SPEC §4), read and written here only.

Preparation writes it once, when every shard is complete; training,
evaluation, export and the input pipeline read it through
:func:`read_dataset_info`. Data without a ``dataset.json`` (CIFAR-100 from
TFDS) is described by a ``dataset_info`` dict given in its place.

No TensorFlow import at module level: preparation workers stay light.
"""

import json
import os
import platform
from collections.abc import Sequence

import cv2
import numpy as np

from iastp_tf.data import features

DATASET_JSON = "dataset.json"


def read_dataset_info(data_dir, dataset_info=None) -> dict:
    """The parsed ``dataset.json`` of ``data_dir``, or ``dataset_info`` when given.

    Args:
      data_dir: a dataset directory (local or any path ``tf.io.gfile`` reads).
      dataset_info: stands in for ``dataset.json``: at least ``num_classes``
        and ``splits``; class names default to ``class_000``, ``class_001``, ...

    Raises:
      ValueError: ``data_dir`` has no ``dataset.json``.
    """
    if dataset_info is not None:
        info = dict(dataset_info)
        info.setdefault("class_names", [f"class_{c:03d}" for c in range(info["num_classes"])])
        return info
    import tensorflow as tf  # gfile reads remote paths too; imported only when read.

    path = os.path.join(data_dir, DATASET_JSON)
    if not tf.io.gfile.exists(path):
        raise ValueError(f"data_dir {data_dir!r} has no {DATASET_JSON} (not a prepared dataset directory?)")
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def library_versions() -> dict[str, str]:
    """Versions of what made the records, for dataset.json."""
    import tensorflow as tf

    import iastp_tf

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "tensorflow": tf.__version__,
        "iastp_tf": iastp_tf.__version__,
    }


def dataset_info_content(
    *,
    class_names: Sequence[str],
    split_counts: dict[str, int],
    frame_size: Sequence[int] | None,
    flow_method: str,
    compensated: bool,
    multi_label: bool,
    command: str,
    num_shards: dict[str, int],
    extra: dict | None = None,
) -> dict:
    """The content of ``dataset.json`` (SPEC §4).

    Args:
      class_names: names in class-index order.
      split_counts: records per split, e.g. ``{"train": 9537, "test": 3783}``.
      frame_size: ``[height, width]`` of the stored frames, or None when
        videos keep their own aspect ratio (``short_side`` resizing).
      flow_method: "tvl1", "tvl1_tf", "farneback" or "none".
      compensated: whether ``flow_mc`` fields are stored.
      multi_label: whether a video may carry several labels (Charades).
      command: the command line that made the directory.
      num_shards: shards per split.
      extra: further entries (resizing, failure count, ...).
    """
    content = {
        "class_names": list(class_names),
        "num_classes": len(class_names),
        "splits": dict(split_counts),
        "num_shards": dict(num_shards),
        "frame_size": list(frame_size) if frame_size is not None else None,
        "flow": {"method": flow_method, "bound": features.FLOW_BOUND, "compensated": compensated},
        "multi_label": multi_label,
        "command": command,
        "versions": library_versions(),
    }
    content.update(extra or {})
    return content


def encode_dataset_info(content: dict) -> bytes:
    """``dataset.json``'s bytes: indented JSON and a final newline."""
    return (json.dumps(content, indent=2) + "\n").encode("utf-8")


def write_dataset_info(output_dir: str, **fields) -> dict:
    """Writes ``dataset.json`` to a local ``output_dir`` atomically and returns its content.

    ``fields`` as in :func:`dataset_info_content`. Preparation writes it
    through its store's file system instead (local or remote).
    """
    content = dataset_info_content(**fields)
    path = os.path.join(output_dir, DATASET_JSON)
    with open(f"{path}.tmp", "wb") as f:
        f.write(encode_dataset_info(content))
    os.replace(f"{path}.tmp", path)
    return content

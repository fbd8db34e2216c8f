"""Small record directories whose pixel values tell which frame they came from.

Frame t of every video is one flat colour, so after any crop and resize the
pipeline's output still reads back as "frame t": RGB is
``(R, G, B) = (v, 255 - v, 128)`` with ``v = 8 + 8 t``; flow field t has
x = ``4 + 8 t`` and y = ``6 + 8 t`` (motion-compensated flow: ``250 - 8 t``
and ``252 - 8 t``). Any JPEG can be replaced by bytes that are not a JPEG, so
a test can prove that a frame was never decoded.
"""

import os

import numpy as np

from iastp_tf.data import dataset_info
from iastp_tf.data.prepare import records

STEP = 8
RGB_BASE = 8
FLOW_X_BASE, FLOW_Y_BASE = 4, 6
FLOW_MC_X_TOP, FLOW_MC_Y_TOP = 250, 252
NOT_A_JPEG = b"this is not a JPEG"


def rgb_value(t):
    return RGB_BASE + STEP * t


def frame_index(values, base):
    """Inverse of the coding: frame indices from (mean) pixel values."""
    return np.rint((np.asarray(values, np.float64) - base) / STEP).astype(int)


def _flat_grey(value, height, width):
    return records.encode_jpeg(np.full((height, width), value, np.uint8))


def write_index_coded_dataset(
    data_dir,
    num_frames,
    split="train",
    size=(48, 64),
    with_flow=True,
    with_flow_mc=False,
    multi_label=False,
    num_shards=2,
    keep=None,
):
    """Writes videos of ``num_frames[i]`` frames; video i has label i.

    Args:
      data_dir: output directory (shards and dataset.json).
      num_frames: frames per video; at most 30 so the values stay distinct.
      split: split name of the shards.
      size: ``(height, width)`` of every frame.
      with_flow, with_flow_mc: store the flow planes.
      multi_label: video i carries labels i and i + 1 (mod the class count).
      num_shards: shards the videos are spread over.
      keep: optional ``keep(video, modality, t) -> bool``; JPEGs it rejects are
        replaced by :data:`NOT_A_JPEG`.

    Returns:
      The media ids, ``video_{i}``, in video order.
    """
    height, width = size
    num_classes = len(num_frames)
    keep = keep or (lambda video, modality, t: True)
    serialized, media_ids = [], []
    for i, count in enumerate(num_frames):
        if count > 30:
            raise ValueError(f"num_frames must be <= 30 for distinct values, got {count}")

        def jpeg(modality, t, image_bytes, video=i):
            return image_bytes if keep(video, modality, t) else NOT_A_JPEG

        frames = []
        for t in range(count):
            v = rgb_value(t)
            bgr = np.empty((height, width, 3), np.uint8)
            bgr[...] = (128, 255 - v, v)  # B, G, R
            frames.append(jpeg("rgb", t, records.encode_jpeg(bgr)))
        fields = range(count - 1)
        flow = {}
        if with_flow:
            flow["flow_x"] = [jpeg("flow", t, _flat_grey(FLOW_X_BASE + STEP * t, height, width)) for t in fields]
            flow["flow_y"] = [jpeg("flow", t, _flat_grey(FLOW_Y_BASE + STEP * t, height, width)) for t in fields]
        if with_flow_mc:
            flow["flow_mc_x"] = [
                jpeg("flow_mc", t, _flat_grey(FLOW_MC_X_TOP - STEP * t, height, width)) for t in fields
            ]
            flow["flow_mc_y"] = [
                jpeg("flow_mc", t, _flat_grey(FLOW_MC_Y_TOP - STEP * t, height, width)) for t in fields
            ]
        labels = sorted({i, (i + 1) % num_classes}) if multi_label else [i]
        media_ids.append(f"video_{i}")
        serialized.append(
            records.VideoRecord(
                media_id=media_ids[-1],
                label_indices=labels,
                label_names=[f"class_{c}" for c in labels],
                frame_rate=25.0,
                height=height,
                width=width,
                frames=frames,
                **flow,
            ).serialize()
        )
    os.makedirs(data_dir, exist_ok=True)
    bounds = np.linspace(0, len(serialized), num_shards + 1).round().astype(int)
    for shard in range(num_shards):
        path = os.path.join(data_dir, records.shard_filename(split, shard, num_shards))
        records.write_tfrecord(path, serialized[bounds[shard] : bounds[shard + 1]])
    dataset_info.write_dataset_info(
        data_dir,
        class_names=[f"class_{c}" for c in range(num_classes)],
        split_counts={split: len(serialized)},
        frame_size=[height, width],
        flow_method="tvl1" if with_flow else "none",
        compensated=with_flow_mc,
        multi_label=multi_label,
        command="tests/data/records_util.py",
        num_shards={split: num_shards},
    )
    return media_ids

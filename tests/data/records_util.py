"""Small record directories whose pixel values tell which frame they came from.

Frame t of every video is one flat colour, so after any crop and resize the
pipeline's output still reads back as "frame t": RGB is
``(R, G, B) = (v, 255 - v, 128)`` with ``v = 8 + 8 t``; flow field t has
x = ``4 + 8 t`` and y = ``6 + 8 t`` (motion-compensated flow: ``250 - 8 t``
and ``252 - 8 t``). Any JPEG can be replaced by bytes that are not a JPEG, so
a test can prove that a frame was never decoded.

:func:`write_frame_folders` writes the same JPEGs as frame folders (the
rawframes layout of SPEC §4), so records and frames can be compared.
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
    output_format="records",
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
      output_format: ``"records"``, ``"frames"`` (no shards) or ``"both"``;
        dataset.json lists the videos either way.

    Returns:
      The media ids, ``video_{i}``, in video order.
    """
    height, width = size
    num_classes = len(num_frames)
    keep = keep or (lambda video, modality, t: True)
    serialized, media_ids, videos = [], [], []
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
        videos.append(
            records.VideoRecord(
                media_id=media_ids[-1],
                label_indices=labels,
                label_names=[f"class_{c}" for c in labels],
                frame_rate=25.0,
                height=height,
                width=width,
                frames=frames,
                **flow,
            )
        )
    os.makedirs(data_dir, exist_ok=True)
    if output_format in ("records", "both"):
        serialized = [video.serialize() for video in videos]
        for shard in range(num_shards):  # contiguous runs, cut as prepare cuts them
            begin, end = shard * len(videos) // num_shards, (shard + 1) * len(videos) // num_shards
            path = os.path.join(data_dir, records.shard_filename(split, shard, num_shards))
            records.write_tfrecord(path, serialized[begin:end])
    if output_format in ("frames", "both"):
        write_frame_folders(os.path.join(data_dir, "frames"), videos)
    dataset_info.write_dataset_info(
        data_dir,
        class_names=[f"class_{c}" for c in range(num_classes)],
        split_counts={split: len(videos)},
        frame_size=[height, width],
        flow_method="tvl1" if with_flow else "none",
        compensated=with_flow_mc,
        multi_label=multi_label,
        command="tests/data/records_util.py",
        num_shards={split: num_shards},
        extra={"format": output_format, "frames_dir": "frames", "videos": {split: video_list(videos)}},
    )
    return media_ids


def video_list(videos):
    """dataset.json's ``videos`` entries of ``records.VideoRecord`` s, in their order."""
    return [
        {
            "id": v.media_id,
            "labels": list(v.label_indices),
            "num_frames": len(v.frames),
            "num_fields": len(v.flow_x or ()),
            "height": v.height,
            "width": v.width,
        }
        for v in videos
    ]


_PLANES = {
    "frames": "img",
    "flow_x": "flow_x",
    "flow_y": "flow_y",
    "flow_mc_x": "flow_mc_x",
    "flow_mc_y": "flow_mc_y",
}


def write_frame_folders(frames_dir, videos):
    """Writes each video's JPEGs as ``<frames_dir>/<media_id>/img_00001.jpg`` ... (1-based).

    Args:
      frames_dir: the folder holding one folder per video.
      videos: ``records.VideoRecord`` s; every stored plane is written
        (``img_``, ``flow_x_``, ``flow_y_``, ``flow_mc_x_``, ``flow_mc_y_``),
        the same bytes as in the record.
    """
    for video in videos:
        folder = os.path.join(frames_dir, video.media_id)
        os.makedirs(folder, exist_ok=True)
        for attribute, prefix in _PLANES.items():
            for t, jpeg in enumerate(getattr(video, attribute) or ()):
                with open(os.path.join(folder, f"{prefix}_{t + 1:05d}.jpg"), "wb") as f:
                    f.write(jpeg)

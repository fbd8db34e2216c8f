"""Synthetic datasets in the record format of SPEC §4, made without videos.

For tests of the input pipeline, training and evaluation: records appear in
milliseconds because frames are drawn with NumPy and the flow is known
analytically (no decoding, no flow estimation). Each video shows one square
moving in a direction that depends on its class, on a noisy background, with
a class-dependent colour, so both streams can learn the classes.
"""

import math
import os
from collections.abc import Sequence

import numpy as np

from iastp_tf.data import dataset_info
from iastp_tf.data.prepare import records


def _class_colour(class_index: int, num_classes: int) -> np.ndarray:
    """A saturated BGR colour per class, evenly spaced in hue."""
    hue = 2 * math.pi * class_index / num_classes
    rgb = 128 + 110 * np.cos(hue - np.array([0.0, 2.0, 4.0]) * math.pi / 3)
    return rgb[::-1].astype(np.float32)


def synthetic_video(
    class_index: int,
    num_classes: int,
    frames: int,
    height: int,
    width: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames and exact flow of one synthetic video.

    The square moves at about 2 pixels per frame in direction
    ``2 pi class_index / num_classes`` (x right, y down).

    Returns:
      frames: uint8 ``[T, H, W, 3]``, BGR.
      flow: float32 ``[T-1, H, W, 2]``, (x, y) displacement in pixels of each
        pixel of frame t to frame t+1: the velocity on the square, 0 elsewhere.
    """
    angle = 2 * math.pi * class_index / num_classes
    speed = rng.uniform(1.5, 2.5)
    velocity = np.array([math.cos(angle), math.sin(angle)]) * speed  # (vx, vy)
    side = max(2, min(height, width) // 5)
    travel = velocity * (frames - 1)
    centre = np.array([width, height]) / 2 - travel / 2 + rng.uniform(-2, 2, size=2)
    colour = _class_colour(class_index, num_classes) + rng.uniform(-20, 20, size=3)

    video = np.empty((frames, height, width, 3), np.uint8)
    flow = np.zeros((max(frames - 1, 0), height, width, 2), np.float32)
    for t in range(frames):
        background = rng.normal(60, 8, size=(height, width, 3))
        x0, y0 = np.rint(centre + velocity * t - side / 2).astype(int)
        x1, y1 = max(x0, 0), max(y0, 0)
        x2, y2 = min(x0 + side, width), min(y0 + side, height)
        background[y1:y2, x1:x2] = colour
        video[t] = np.clip(background, 0, 255).astype(np.uint8)
        if t < frames - 1:
            flow[t, y1:y2, x1:x2] = velocity
    return video, flow


def write_synthetic_dataset(
    out_dir: str,
    num_classes: int = 4,
    videos_per_class: int = 2,
    frames: int = 8,
    size: int | Sequence[int] = 32,
    seed: int = 0,
    splits: Sequence[str] = ("train", "test"),
    with_flow: bool = True,
    with_flow_mc: bool = False,
    multi_label: bool = False,
    num_shards: int = 1,
) -> dict:
    """Writes a small dataset directory of synthetic records (SPEC §4).

    Args:
      out_dir: directory to create (or reuse); shards and dataset.json go here.
      num_classes: number of classes, each with its own motion direction.
      videos_per_class: videos per class in each split.
      frames: frames per video, T (flow has T-1 fields).
      size: frame size, an int (square) or ``(height, width)``.
      seed: the same seed gives the same bytes.
      splits: split names; each gets ``num_classes * videos_per_class`` videos
        with its own random draws.
      with_flow: store ``flow/{x,y}/encoded``.
      with_flow_mc: also store ``flow_mc/{x,y}/encoded`` (equal to the flow:
        these videos have no camera motion).
      multi_label: every second video also carries the next class's label,
        and dataset.json says ``multi_label: true``.
      num_shards: shards per split.

    Returns:
      The content of the dataset.json written.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if videos_per_class < 1:
        raise ValueError(f"videos_per_class must be >= 1, got {videos_per_class}")
    if frames < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    if min(height, width) < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")

    os.makedirs(out_dir, exist_ok=True)
    class_names = [f"class_{c:03d}" for c in range(num_classes)]
    split_counts, shard_counts = {}, {}
    for split_number, split in enumerate(splits):
        rng = np.random.default_rng([seed, split_number])
        serialized = []
        for i in range(num_classes * videos_per_class):
            class_index = i % num_classes
            labels = [class_index]
            if multi_label and i % 2 == 1 and num_classes > 1:
                labels = sorted({class_index, (class_index + 1) % num_classes})
            video, flow = synthetic_video(class_index, num_classes, frames, height, width, rng)
            flow_x = [records.encode_jpeg(records.quantize_flow(f[..., 0])) for f in flow]
            flow_y = [records.encode_jpeg(records.quantize_flow(f[..., 1])) for f in flow]
            record = records.VideoRecord(
                media_id=f"{split}/{class_names[class_index]}/video_{i:04d}",
                label_indices=labels,
                label_names=[class_names[c] for c in labels],
                frame_rate=25.0,
                height=height,
                width=width,
                frames=[records.encode_jpeg(frame) for frame in video],
                flow_x=flow_x if with_flow else (),
                flow_y=flow_y if with_flow else (),
                flow_mc_x=flow_x if with_flow_mc else (),
                flow_mc_y=flow_y if with_flow_mc else (),
            )
            serialized.append(record.serialize())
        bounds = np.linspace(0, len(serialized), num_shards + 1).round().astype(int)
        for shard in range(num_shards):
            path = os.path.join(out_dir, records.shard_filename(split, shard, num_shards))
            records.write_tfrecord(path, serialized[bounds[shard] : bounds[shard + 1]])
        split_counts[split] = len(serialized)
        shard_counts[split] = num_shards

    return dataset_info.write_dataset_info(
        out_dir,
        class_names=class_names,
        split_counts=split_counts,
        frame_size=[height, width],
        flow_method="synthetic" if with_flow else "none",
        compensated=with_flow_mc,
        multi_label=multi_label,
        command="iastp_tf.data.prepare.synthetic.write_synthetic_dataset",
        num_shards=shard_counts,
        extra={"synthetic": {"seed": seed, "videos_per_class": videos_per_class, "frames": frames}},
    )

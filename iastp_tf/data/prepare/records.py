"""The record format of SPEC §4, written without importing TensorFlow.

One ``tf.train.SequenceExample`` per video, with the keys of
``iastp_tf.data.features``. Preparation workers encode records here with a
small, exact protobuf writer (the wire format of ``tensorflow/core/example/
{example,feature}.proto``), so that a worker process never pays for a
TensorFlow import; map entries are written in sorted key order, which makes
the bytes a pure function of the content (the same bytes that
``SerializeToString(deterministic=True)`` gives). The TFRecord framing of
the shards is left to ``tf.io.TFRecordWriter`` in the parent process
(``write_tfrecord``).

Flow quantisation follows TSN: clip to ±``FLOW_BOUND`` pixels, then
``round(255 (v + bound) / (2 bound))``.
"""

import dataclasses
import os
import struct
from collections.abc import Sequence

import cv2
import numpy as np

from iastp_tf.data import features

DEFAULT_JPEG_QUALITY = 90


# ---------------------------------------------------------------------------
# Flow quantisation and JPEG encoding.


def quantize_flow(flow: np.ndarray, bound: float = features.FLOW_BOUND) -> np.ndarray:
    """Quantises flow in pixels to uint8 as TSN does.

    Args:
      flow: float array of any shape, displacements in pixels.
      bound: values are clipped to ``[-bound, bound]`` first.

    Returns:
      uint8 array of the same shape, ``round(255 (v + bound) / (2 bound))``.
    """
    if bound <= 0:
        raise ValueError(f"bound must be positive, got {bound}")
    clipped = np.clip(np.asarray(flow, np.float32), -bound, bound)
    return np.rint(255.0 * (clipped + bound) / (2.0 * bound)).astype(np.uint8)


def dequantize_flow(quantized: np.ndarray, bound: float = features.FLOW_BOUND) -> np.ndarray:
    """Inverse of ``quantize_flow`` up to rounding: uint8 -> float32 pixels."""
    return np.asarray(quantized, np.float32) * (2.0 * bound / 255.0) - bound


def encode_jpeg(image: np.ndarray, quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """JPEG bytes of an image: ``[H, W, 3]`` BGR (OpenCV order) or ``[H, W]`` grey.

    Baseline JPEG with fixed quality and no optimisation passes, so the same
    pixels always give the same bytes.
    """
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"image of shape {image.shape} could not be JPEG-encoded")
    return buffer.tobytes()


# ---------------------------------------------------------------------------
# SequenceExample wire format.


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64 two's complement, as protobuf does.
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _bytes_feature(values: Sequence[bytes]) -> bytes:
    return _field(1, b"".join(_field(1, v) for v in values))  # Feature.bytes_list


def _float_feature(values: Sequence[float]) -> bytes:
    packed = struct.pack(f"<{len(values)}f", *values)
    return _field(2, _field(1, packed) if values else b"")  # Feature.float_list


def _int64_feature(values: Sequence[int]) -> bytes:
    packed = b"".join(_varint(int(v)) for v in values)
    return _field(3, _field(1, packed) if values else b"")  # Feature.int64_list


def _map(entries: dict[str, bytes]) -> bytes:
    """A protobuf map<string, message> as field 1, entries in sorted key order."""
    return b"".join(
        _field(1, _field(1, key.encode("utf-8")) + _field(2, entries[key]))
        for key in sorted(entries)
    )


@dataclasses.dataclass
class VideoRecord:
    """The content of one record (one video), SPEC §4.

    Attributes:
      media_id: the video's id, unique within the dataset (its relative path
        without extension, for example ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01``).
      label_indices: class indices, one (or several for multi-label datasets).
      label_names: class names parallel to ``label_indices``.
      frame_rate: frames per second of the source (0 when unknown).
      height, width: size of the stored frames.
      frames: T JPEG-encoded RGB frames.
      flow_x, flow_y: T-1 grayscale JPEGs each (empty when flow is not stored).
      flow_mc_x, flow_mc_y: T-1 motion-compensated fields each, or empty.
    """

    media_id: str
    label_indices: Sequence[int]
    label_names: Sequence[str]
    frame_rate: float
    height: int
    width: int
    frames: Sequence[bytes]
    flow_x: Sequence[bytes] = ()
    flow_y: Sequence[bytes] = ()
    flow_mc_x: Sequence[bytes] = ()
    flow_mc_y: Sequence[bytes] = ()

    def __post_init__(self):
        if len(self.label_indices) != len(self.label_names):
            raise ValueError(
                f"label_indices ({len(self.label_indices)}) and label_names "
                f"({len(self.label_names)}) must have the same length"
            )
        for name, fields in (
            ("flow", (self.flow_x, self.flow_y)),
            ("flow_mc", (self.flow_mc_x, self.flow_mc_y)),
        ):
            lengths = {len(f) for f in fields}
            if lengths != {0} and lengths != {len(self.frames) - 1}:
                raise ValueError(
                    f"{name} must hold T-1 = {len(self.frames) - 1} fields per "
                    f"direction or none, got x: {len(fields[0])}, y: {len(fields[1])}"
                )

    def serialize(self) -> bytes:
        """The serialized ``tf.train.SequenceExample``."""
        context = {
            features.MEDIA_ID: _bytes_feature([self.media_id.encode("utf-8")]),
            features.LABEL_INDEX: _int64_feature(list(self.label_indices)),
            features.LABEL_STRING: _bytes_feature([n.encode("utf-8") for n in self.label_names]),
            features.FRAME_RATE: _float_feature([float(self.frame_rate)]),
            features.HEIGHT: _int64_feature([int(self.height)]),
            features.WIDTH: _int64_feature([int(self.width)]),
        }
        sequences = {features.IMAGE_ENCODED: self.frames}
        if self.flow_x:
            sequences[features.FLOW_X_ENCODED] = self.flow_x
            sequences[features.FLOW_Y_ENCODED] = self.flow_y
        if self.flow_mc_x:
            sequences[features.FLOW_MC_X_ENCODED] = self.flow_mc_x
            sequences[features.FLOW_MC_Y_ENCODED] = self.flow_mc_y
        feature_lists = {
            key: b"".join(_field(1, _bytes_feature([jpeg])) for jpeg in jpegs)
            for key, jpegs in sequences.items()
        }
        return _field(1, _map(context)) + _field(2, _map(feature_lists))


# ---------------------------------------------------------------------------
# Shards.


def shard_filename(split: str, index: int, num_shards: int) -> str:
    """``<split>-SSSSS-of-NNNNN.tfrecord``."""
    return f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord"


def shard_bounds(shard, count, num_shards):
    """``(begin, end)``: shard ``shard`` holds the videos at positions ``begin .. end - 1`` of its split.

    A split of ``count`` videos is cut into ``num_shards`` contiguous runs; the
    arithmetic works on Python ints (preparation) and int64 tensors (input).
    """
    return shard * count // num_shards, (shard + 1) * count // num_shards


# A frame folder in the TSN/mmaction2 rawframes layout: <prefix><t>.jpg, t from 1 with
# FRAME_DIGITS digits, one prefix per plane of each modality (RGB; flow x, y).
FRAME_PREFIXES = {
    "rgb": ("img_",),
    "flow": ("flow_x_", "flow_y_"),
    "flow_mc": ("flow_mc_x_", "flow_mc_y_"),
}
FRAME_DIGITS = 5


TEMPORARY_MARK = ".iastp-tmp-"


def temporary_path(path: str) -> str:
    """Where ``path`` is written before it is renamed: ``<path>.iastp-tmp-<pid>``.

    Only names of this form are ever deleted as leftovers of a killed run.
    """
    return f"{path}{TEMPORARY_MARK}{os.getpid()}"


def write_tfrecord(path: str, records: Sequence[bytes]) -> None:
    """Writes serialized records to a TFRecord file atomically.

    The file appears under ``path`` only when complete: it is written to a
    temporary name in the same directory and renamed.
    """
    import tensorflow as tf  # Only the parent process writes shards.

    temporary = temporary_path(path)
    with tf.io.TFRecordWriter(temporary) as writer:
        for record in records:
            writer.write(record)
    os.replace(temporary, path)

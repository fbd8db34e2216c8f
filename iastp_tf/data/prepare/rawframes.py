"""Records from TSN/mmaction2 rawframes folders (SPEC §4, preparation).

A rawframes folder holds ``img_00001.jpg ...`` (RGB frames) and, when flow was
extracted already (denseflow, TSN's ``extract_optical_flow``),
``flow_x_00001.jpg ...`` and ``flow_y_00001.jpg ...``: grayscale JPEGs
quantised with bound 20, the format the records use too. Their bytes are
copied unchanged when no resizing is asked for, so users who already paid for
flow extraction do not pay again; with resizing, flow is dequantised, resized
and scaled by the resize factor before it is quantised again.
"""

import glob
import os

import cv2
import numpy as np

from iastp_tf.data.prepare import records
from iastp_tf.data.prepare import video as video_lib


def list_rawframes(directory: str) -> tuple[list[str], list[str], list[str]]:
    """Sorted paths of the ``img_*``, ``flow_x_*`` and ``flow_y_*`` JPEGs."""
    def files(prefix):
        return sorted(glob.glob(os.path.join(glob.escape(directory), f"{prefix}_*.jpg")))
    return files("img"), files("flow_x"), files("flow_y")


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def decode_jpeg(data: bytes, grey: bool = False) -> np.ndarray:
    """JPEG bytes -> uint8 ``[H, W, 3]`` BGR, or ``[H, W]`` with ``grey``."""
    flags = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise video_lib.VideoError("corrupt JPEG in rawframes folder")
    return image


def stored_flow_fields(flow_x, flow_y, source_size, size):
    """Yields stored flow as float displacements at another frame size.

    Args:
      flow_x, flow_y: grayscale JPEGs of the quantised x and y components.
      source_size: ``(height, width)`` they were extracted at.
      size: ``(height, width)`` wanted; displacements scale with the size
        along their own axis.

    Yields:
      float32 ``[height, width, 2]`` per field.
    """
    (source_height, source_width), (height, width) = source_size, size
    for x_jpeg, y_jpeg in zip(flow_x, flow_y):
        components = []
        for jpeg, scale in ((x_jpeg, width / source_width), (y_jpeg, height / source_height)):
            flow = records.dequantize_flow(decode_jpeg(jpeg, grey=True))  # [h, w] pixels
            components.append(video_lib.resize_frame(flow, height, width) * scale)
        yield np.stack(components, axis=-1)  # [height, width, 2]

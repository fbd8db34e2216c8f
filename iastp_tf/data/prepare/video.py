"""Video decoding and resizing with OpenCV (SPEC §4, preparation).

Frames stay in OpenCV's BGR order from decoding to JPEG encoding, which
stores them as ordinary RGB JPEGs.
"""

import os
from collections.abc import Sequence

import cv2
import numpy as np

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")

# A video whose decoded frame count falls below this fraction of the count in
# its header is reported as truncated (headers may be off by a few frames).
MIN_DECODED_FRACTION = 0.75


class VideoError(Exception):
    """A video that cannot be prepared; the message is one line for failures.txt."""


def read_video(
    path: str, resize: Sequence[int] | None = None, short_side: int | None = None
) -> tuple[np.ndarray, float]:
    """Decodes every frame of a video file, resizing each as it is decoded.

    Args:
      path: a video file OpenCV can read (FFmpeg backend).
      resize, short_side: output size, as in ``target_size`` (default: the
        source size). Resizing frame by frame keeps memory at the output size.

    Returns:
      frames: uint8 ``[T, H, W, 3]``, BGR, at the output size.
      frame_rate: frames per second from the container (0.0 when unknown).

    Raises:
      VideoError: the file is missing, empty, cannot be opened, holds no
        frame, or decodes to far fewer frames than its header announces.
    """
    if not os.path.isfile(path):
        raise VideoError("missing file")
    if os.path.getsize(path) == 0:
        raise VideoError("empty file (0 bytes)")
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise VideoError("cannot open video (corrupt or unsupported container/codec)")
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        frame_rate = float(capture.get(cv2.CAP_PROP_FPS))
        frames, source_shape, size = [], None, None
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            if source_shape is None:
                source_shape = frame.shape
                size = target_size(frame.shape[0], frame.shape[1], resize, short_side)
            elif frame.shape != source_shape:
                raise VideoError(f"frame size changes at frame {len(frames)}")
            frames.append(resize_frame(frame, *size))
    finally:
        capture.release()
    if not frames:
        raise VideoError("zero frames decoded (corrupt or truncated file)")
    if declared > 0 and len(frames) < MIN_DECODED_FRACTION * declared:
        raise VideoError(f"truncated: decoded {len(frames)} of {declared} frames")
    if not np.isfinite(frame_rate) or frame_rate < 0:
        frame_rate = 0.0
    return np.stack(frames), frame_rate


def parse_size(text: str) -> tuple[int, int] | None:
    """``"340x256"`` -> ``(340, 256)`` (width, height); ``"none"`` -> None."""
    if text.strip().lower() in ("", "none", "original"):
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"resize must look like WIDTHxHEIGHT (e.g. 340x256) or 'none', got {text!r}")
    if width <= 0 or height <= 0:
        raise ValueError(f"resize must be positive, got {text!r}")
    return width, height


def target_size(
    height: int, width: int, resize: Sequence[int] | None, short_side: int | None
) -> tuple[int, int]:
    """Output ``(height, width)`` for a ``height x width`` source.

    Args:
      resize: ``(width, height)`` to resize to, ignoring aspect (TSN: 340x256).
      short_side: if set, wins over ``resize``: scale so that the shorter side
        has this length, keeping the aspect ratio (rounded to whole pixels).
    """
    if short_side:
        scale = short_side / min(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))
    if resize:
        return int(resize[1]), int(resize[0])
    return height, width


def resize_frame(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resizes one image (area averaging when shrinking, bilinear otherwise)."""
    if frame.shape[:2] == (height, width):
        return frame
    shrinking = height * width < frame.shape[0] * frame.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(frame, (width, height), interpolation=interpolation)

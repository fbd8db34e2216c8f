"""Small real video files for the preparation tests."""

import cv2
import numpy as np


def textured_translation(frames, height, width, shift, seed=0):
    """Frames of a smooth random texture moving by ``shift`` = (dx, dy) pixels per frame.

    Returns uint8 ``[T, height, width, 3]`` BGR. Content at (x, y) in frame t is
    at (x + dx, y + dy) in frame t + 1.
    """
    dx, dy = shift
    rng = np.random.default_rng(seed)
    margin = int(max(abs(dx), abs(dy)) * frames) + 2
    big_h, big_w = height + 2 * margin, width + 2 * margin
    noise = rng.normal(0, 1, size=(big_h // 4 + 2, big_w // 4 + 2)).astype(np.float32)
    grey = cv2.GaussianBlur(cv2.resize(noise, (big_w, big_h), interpolation=cv2.INTER_CUBIC), (0, 0), 1.0)
    # Detail in luminance only, a constant tint: JPEG's chroma subsampling loses nothing.
    tint = np.array([20.0, 0.0, -20.0])
    texture = np.clip(128 + 45 * grey[..., None] / grey.std() + tint, 0, 255).astype(np.uint8)
    out = []
    for t in range(frames):
        x0, y0 = margin - round(dx * t), margin - round(dy * t)
        out.append(texture[y0 : y0 + height, x0 : x0 + width])
    return np.stack(out)


def write_video(path, frames, fourcc="MJPG", fps=25.0):
    """Writes BGR frames ``[T, H, W, 3]`` with cv2.VideoWriter."""
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"cannot write {fourcc} to {path}"
    for frame in frames:
        writer.write(frame)
    writer.release()


def opencv_frames(path):
    """Every frame OpenCV decodes from a file, BGR."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.stack(frames)

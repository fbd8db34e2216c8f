"""Classify one video file with exported streams (SPEC §5 ``predict.py``).

Each exported stream (``iastp_tf.evaluation.export``) gets its own input from
the same decoded video, prepared as its records were and as evaluation reads
them: frames resized to the records' frame size, K test segments (the middle
snippet start of each, TSN), the centred square crop resized to S, the
backbone's normalisation. Flow streams get flow computed on the fly for the
sampled snippets only, with the records' method and TV-L1 settings, quantised
like the records (TSN, ±20 px). Frames and flow fields pass through the
records' JPEG quality and TensorFlow's JPEG decoder, as the records do. The
streams' logits are fused with weights (late fusion, Table 9) and the top
classes are reported with softmax probabilities.
"""

import json
import os

import cv2
import gin
import numpy as np
import tensorflow as tf

from iastp_tf.data import augmentation, features, normalization, sampling
from iastp_tf.data.prepare import records, video
from iastp_tf.data.prepare.flow import FlowEstimator
from iastp_tf.evaluation.export import load_export_metadata


def read_frames(video_path, frame_size=None) -> np.ndarray:
    """Decoded BGR frames uint8 ``[T, H, W, 3]``, resized to ``frame_size`` ``[h, w]`` if given."""
    frames, _ = video.read_video(video_path)
    if frame_size:
        frames = np.stack([video.resize_frame(f, *frame_size) for f in frames])
    return frames


def _as_recorded(images, quality, channels):
    """``images`` as the records return them: JPEG at ``quality``, decoded by TensorFlow.

    Colour images go in as BGR (OpenCV) and come out RGB; grey ones keep one channel.
    """
    return np.stack([
        tf.io.decode_jpeg(records.encode_jpeg(image, quality), channels=channels).numpy() for image in images
    ])


def _centre_views(frames, input_size):
    """``[N, H, W, C]`` -> the centred square crop resized to ``[N, S, S, C]`` float32."""
    frames = tf.convert_to_tensor(frames)
    window = augmentation.center_crop_window(frames.shape[1], frames.shape[2])
    return augmentation.resize_frames(augmentation.crop_frames(frames, window), input_size)


def _snippet_indices(num_frames, metadata):
    starts = sampling.segment_offsets(num_frames, metadata["num_segments"], metadata["new_length"])
    steps = np.arange(metadata["new_length"])
    return np.minimum(starts.numpy()[:, None] + steps, num_frames - 1)  # [K, L]


def _recorded_flow(frames, field_indices, metadata):
    """uint8 ``[F, H, W, 2]`` flow for each requested field t (BGR frames t -> t+1), as recorded."""
    settings, tvl1 = metadata.get("flow", {}), metadata.get("tvl1", {})
    method = settings.get("method")
    estimator = FlowEstimator(
        "tvl1" if method in ("none", None) else method,
        tvl1_scales=tvl1.get("scales", 5),
        tvl1_warps=tvl1.get("warps", 5),
    )
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    bound = settings.get("bound", features.FLOW_BOUND)
    quality = metadata.get("jpeg_quality") or records.DEFAULT_JPEG_QUALITY
    fields = {}
    for t in set(field_indices.ravel()):
        quantized = records.quantize_flow(estimator.pair(grey[t], grey[t + 1]), bound)  # [H, W, 2]
        x, y = (_as_recorded([quantized[..., axis]], quality, 1)[0, ..., 0] for axis in (0, 1))
        fields[t] = np.stack([x, y], axis=-1)
    return np.stack([fields[t] for t in field_indices.ravel()])


def stream_input(frames, metadata) -> np.ndarray:
    """The ``[1, K, S, S, C]`` float32 input of one exported stream for BGR ``frames`` ``[T, H, W, 3]``."""
    modality, size = metadata["modality"], metadata["input_size"]
    if modality == "rgb":
        indices = _snippet_indices(len(frames), metadata)  # [K, L]
        quality = metadata.get("jpeg_quality") or records.DEFAULT_JPEG_QUALITY
        chosen = _as_recorded(frames[indices.ravel()], quality, 3)  # [K·L, H, W, 3] RGB
    else:
        if len(frames) < 2:
            raise ValueError("a flow stream needs a video of at least 2 frames")
        indices = _snippet_indices(len(frames) - 1, metadata)  # fields, [K, L]
        chosen = _recorded_flow(frames, indices, metadata)  # [K·L, H, W, 2]
    views = _centre_views(chosen, size)  # [K·L, S, S, c]
    num_segments, new_length = indices.shape
    stacked = tf.reshape(views, [num_segments, new_length, size, size, -1])  # [K, L, S, S, c]
    stacked = tf.reshape(tf.transpose(stacked, [0, 2, 3, 1, 4]), [num_segments, size, size, -1])  # [K, S, S, L·c]
    normalized = normalization.normalize(stacked, metadata["backbone"], modality)
    return normalized.numpy()[np.newaxis]  # [1, K, S, S, C]


def softmax(logits):
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


@gin.configurable
def predict(video_path, export_dirs=gin.REQUIRED, weights=None, top_k=5, output_json=None) -> list[dict]:
    """Top-``top_k`` classes of a video under the weighted fusion of exported streams.

    Args:
      video_path: a video file OpenCV can read.
      export_dirs: exported streams (e.g. RGB and flow); they must share class names.
      weights: one per stream; ``None`` for equal weights.
      top_k: how many classes to report.
      output_json: optional path for ``{"video", "streams", "weights", "top"}``.

    Returns:
      ``[{"class": name, "index": i, "probability": p}, ...]``, best first.
    """
    weights = weights or [1.0] * len(export_dirs)
    if len(weights) != len(export_dirs):
        raise ValueError(f"weights must have one entry per export dir, got {len(weights)} for {len(export_dirs)}")
    metadatas = [load_export_metadata(d) for d in export_dirs]
    class_names = metadatas[0]["class_names"]
    if any(m["class_names"] != class_names for m in metadatas):
        raise ValueError("the exported streams must have the same class names")
    frames = read_frames(video_path, metadatas[0].get("frame_size"))
    fused = np.zeros(len(class_names), np.float64)
    for export_dir, metadata, weight in zip(export_dirs, metadatas, weights):
        stream = tf.saved_model.load(export_dir)  # keep it referenced while serving
        logits = stream.serve(tf.constant(stream_input(frames, metadata)))
        fused += weight * np.asarray(logits, np.float64)[0]
    probabilities = softmax(fused)
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    top = [{"class": class_names[i], "index": int(i), "probability": float(probabilities[i])} for i in order]
    if output_json:
        os.makedirs(os.path.dirname(os.path.abspath(output_json)), exist_ok=True)
        with open(output_json, "w") as f:
            json.dump(
                {"video": video_path, "streams": list(export_dirs), "weights": list(weights), "top": top}, f, indent=2
            )
    return top

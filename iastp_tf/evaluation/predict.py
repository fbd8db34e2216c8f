"""Classify one video file with exported streams (SPEC §5 ``predict.py``).

One preprocessing route for evaluation and serving: the video is prepared in
memory as its dataset's records were (the preparation recorded in the
export's metadata: resize or short side, JPEG quality, flow method and its
settings, quantisation bound, motion compensation), into one serialized
record, and that record goes through the input pipeline's test step
(:func:`iastp_tf.data.pipeline.views_of_record`: the same parse, sampling,
crop and resize as ``make_dataset(training=False)``; the exported model
normalises). Each
stream's logits are averaged over its test views (as evaluation does), the
streams are fused with weights (late fusion, Table 9) and the top classes are
reported with softmax probabilities.

Flow is computed only for the fields the test sampling (TSN segments) reads;
the other fields of the in-memory record are left empty, so a sampling that
reads them fails loudly instead of reading wrong flow.
"""

import json
import os
import sys

import cv2
import gin
import numpy as np
import tensorflow as tf
from absl import logging

from iastp_tf.data import pipeline, sampling, snippets
from iastp_tf.data.prepare import compensation, records, video
from iastp_tf.data.prepare.flow import FlowEstimator, to_grey
from iastp_tf.evaluation.export import INPUT_RANGE, load_export_metadata
from iastp_tf.evaluation.metrics import softmax

_FLOW_MODALITIES = ("flow", "flow_mc")


def _new_lengths(metadata) -> dict:
    """``{modality: L}`` of an exported stream (one modality, or several for a two-stream model)."""
    modality, new_length = metadata["modality"], metadata["new_length"]
    modalities = [modality] if isinstance(modality, str) else list(modality)
    return {m: new_length or pipeline.DEFAULT_NEW_LENGTH[m] for m in modalities}


def flow_fields_read(num_frames, metadata) -> list[int]:
    """The flow fields (t: frame t -> t+1) that the test views (TSN segments) of a ``num_frames``-frame video read.

    As the input pipeline samples: snippet starts over the T-1 fields (the
    shorter modality) with room for the longest snippet; each flow snippet
    reads L fields from its start.
    """
    num_fields, new_lengths = num_frames - 1, _new_lengths(metadata)
    starts = sampling.segment_offsets(num_fields, metadata["num_segments"], max(new_lengths.values()))  # [K]
    flow_length = max(length for m, length in new_lengths.items() if m in _FLOW_MODALITIES)
    indices = snippets.snippet_indices(starts, flow_length, num_fields)  # [K, L]
    return sorted(set(indices.numpy().ravel().tolist()))


def _flow_jpegs(frames, fields, preparation, compensated, progress):
    """JPEG planes ``(x, y, mc_x, mc_y)`` of T-1 fields each; only ``fields`` are computed, the rest empty.

    Quantised and encoded as the preparation's worker does (bound, JPEG quality,
    motion compensation); OpenCV runs on one thread there, and here too.
    """
    flow = preparation["flow"]
    tvl1 = preparation.get("tvl1") or {}
    estimator = FlowEstimator(flow["method"], tvl1.get("scales", 5), tvl1.get("warps", 5),
                              tvl1.get("preset", "opencv"))
    bound, quality = flow["bound"], preparation["jpeg_quality"]
    planes = [[b""] * (len(frames) - 1) for _ in range(4)]
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        for t in _progress(fields, progress, f"{flow['method']} flow"):
            field = estimator.pair(to_grey(frames[t]), to_grey(frames[t + 1]))  # [H, W, 2]
            versions = [field, compensation.compensate_flow(field)] if compensated else [field]
            for offset, version in zip((0, 2), versions):
                quantized = records.quantize_flow(version, bound)
                planes[offset][t] = records.encode_jpeg(quantized[..., 0], quality)
                planes[offset + 1][t] = records.encode_jpeg(quantized[..., 1], quality)
    finally:
        cv2.setNumThreads(threads)
    return planes


def _progress(items, progress, what):
    """``items``, with a progress bar on a terminal and a log line per quarter elsewhere (no ANSI codes)."""
    if not progress:
        return items
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(items, desc=what, unit="pair", file=sys.stderr, leave=False)
    return _logged(items, what)


def _logged(items, what):
    total = len(items)
    logging.info("%s: %d frame pairs", what, total)
    marks = {max(1, round(total * q / 4)) for q in (1, 2, 3, 4)}
    for done, item in enumerate(items, start=1):
        yield item
        if done in marks:
            logging.info("%s: %d/%d frame pairs done", what, done, total)


def read_frames(video_path, preparation) -> tuple[np.ndarray, float]:
    """BGR uint8 ``[T, h, w, 3]`` frames at the preparation's size (resized while decoding), and the frame rate.

    Raises:
      ValueError: the video cannot be read (the message names it).
    """
    resize, short_side = preparation.get("resize"), preparation.get("short_side")
    try:
        return video.read_video(video_path, resize, short_side)
    except video.VideoError as error:
        raise ValueError(f"video {video_path}: {error}") from error


def video_record(frames, frame_rate, preparation, flow_fields=(), compensated=False, progress=True, name="video"):
    """Decoded frames as one serialized record, encoded as the dataset's records were.

    Args:
      frames: BGR uint8 ``[T, h, w, 3]`` from :func:`read_frames`.
      frame_rate: stored in the record.
      preparation: the export metadata's ``"preparation"`` (from the dataset's
        ``dataset.json``): ``resize`` ``[w, h]`` or None, ``short_side``,
        ``jpeg_quality``, ``flow`` (``method``, ``bound``), ``tvl1``.
      flow_fields: which flow fields to compute (see :func:`flow_fields_read`);
        empty for RGB only.
      compensated: also store motion-compensated flow for those fields.
      progress: show flow progress (bar on a terminal, log lines elsewhere).
      name: the record's media id.

    Returns:
      The serialized SequenceExample: T RGB JPEGs, and T-1 flow JPEGs per
      plane when ``flow_fields`` is given (empty where not computed). Its
      label is a placeholder (class 0).
    """
    planes = [(), (), (), ()]
    if len(flow_fields):
        planes = _flow_jpegs(frames, flow_fields, preparation, compensated, progress)
        if not compensated:
            planes[2:] = [(), ()]
    return records.VideoRecord(
        media_id=name,
        label_indices=(0,),
        label_names=("unknown",),
        frame_rate=frame_rate,
        height=frames.shape[1],
        width=frames.shape[2],
        frames=[records.encode_jpeg(frame, preparation["jpeg_quality"]) for frame in frames],
        flow_x=planes[0],
        flow_y=planes[1],
        flow_mc_x=planes[2],
        flow_mc_y=planes[3],
    ).serialize()


def stream_views(serialized, metadata):
    """float32 ``[V, K, S, S, C]``: the test views of one exported stream for a serialized record.

    A dict ``{modality: [V, K, S, S, C]}`` for a two-stream model (attention fusion, Table 11).
    """
    modality = metadata["modality"]
    return pipeline.views_of_record(
        serialized,
        num_classes=len(metadata["class_names"]),
        modality=modality if isinstance(modality, str) else tuple(modality),
        backbone=metadata["backbone"],
        num_segments=metadata["num_segments"],
        new_length=metadata["new_length"],
        input_size=metadata["input_size"],
        test_crops=metadata["test_crops"],
    )


def served_views(video_path, metadatas, progress=True):
    """Yields what each exported stream is fed for one video: float32 ``[V, K, S, S, C]``.

    The video is decoded once per frame geometry and prepared once per
    preparation (and set of flow fields) among the streams.

    Args:
      video_path: a video file OpenCV can read.
      metadatas: the streams' export metadata (:func:`load_export_metadata`).
      progress: show the progress of flow computation.
    """
    decoded, prepared = {}, {}
    for metadata in metadatas:
        preparation = metadata["preparation"]
        geometry = json.dumps([preparation.get("resize"), preparation.get("short_side")])
        if geometry not in decoded:
            decoded[geometry] = read_frames(video_path, preparation)
        frames, frame_rate = decoded[geometry]
        modalities = _new_lengths(metadata)
        fields, compensated = [], "flow_mc" in modalities
        if any(m in _FLOW_MODALITIES for m in modalities):
            if len(frames) < 2:
                raise ValueError(f"video {video_path} has 1 frame; a {'+'.join(modalities)} stream needs 2 or more")
            fields = flow_fields_read(len(frames), metadata)
        key = json.dumps([preparation, fields, compensated], sort_keys=True)
        if key not in prepared:
            prepared[key] = video_record(
                frames, frame_rate, preparation, fields, compensated, progress, os.path.basename(video_path)
            )
        yield stream_views(prepared[key], metadata)


def _check_exports(export_dirs, metadatas):
    for export_dir, metadata in zip(export_dirs, metadatas):
        if "preparation" not in metadata:
            raise ValueError(
                f"export {export_dir} records no preparation (made by an older version); export the run again"
            )
        if metadata.get("input_range") != list(INPUT_RANGE):
            raise ValueError(
                f"export {export_dir} takes normalised frames (exported before the model normalised its own "
                "0..255 input); export the run again"
            )
        flow = [m for m in _new_lengths(metadata) if m in _FLOW_MODALITIES]
        if flow and metadata["preparation"]["flow"]["method"] == "none":
            raise ValueError(f"export {export_dir} reads {flow[0]} but its records were prepared without flow")
    if any(m["class_names"] != metadatas[0]["class_names"] for m in metadatas):
        raise ValueError(f"the exported streams {list(export_dirs)} must have the same class names")


@gin.configurable
def predict(video_path, export_dirs=gin.REQUIRED, weights=None, top_k=5, output_json=None, progress=True) -> list[dict]:
    """Top-``top_k`` classes of a video under the weighted fusion of exported streams.

    Args:
      video_path: a video file OpenCV can read.
      export_dirs: exported streams (e.g. RGB and flow); they must share class names.
      weights: one per stream; ``None`` for equal weights.
      top_k: how many classes to report.
      output_json: optional path for ``{"video", "streams", "weights", "top"}``.
      progress: show the progress of flow computation.

    Returns:
      ``[{"class": name, "index": i, "probability": p}, ...]``, best first.
    """
    weights = weights or [1.0] * len(export_dirs)
    if len(weights) != len(export_dirs):
        raise ValueError(f"weights must have one entry per export dir, got {len(weights)} for {len(export_dirs)}")
    if not os.path.isfile(video_path):
        raise ValueError(f"video {video_path} does not exist")
    metadatas = [load_export_metadata(d) for d in export_dirs]
    _check_exports(export_dirs, metadatas)
    class_names = metadatas[0]["class_names"]
    fused = np.zeros(len(class_names), np.float64)
    for export_dir, views, weight in zip(export_dirs, served_views(video_path, metadatas, progress), weights):
        stream = tf.saved_model.load(export_dir)  # keep it referenced while serving
        logits = np.asarray(stream.serve(views), np.float64)  # [V, N]
        fused += weight * logits.mean(axis=0)  # averaged over the views, as evaluation does
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

"""The worker side of preparation: one video -> one record, or a failure reason.

Pure: reads its source, writes no file. Any runner (the in-process loop, the
local process pool, Apache Beam) calls ``process`` on a ``Job`` and hands
the ``Result`` to the shard store (``store``), which does all the writing.

  Job(entry, kind, path, options)
     |  video file:      decode + resize -> [T, h, w, 3] -> JPEGs, flow fields -> JPEGs
     |  rawframes folder: JPEGs kept or resized; stored flow copied, rescaled, or computed
     v
  Result(key, record | reason)

A batched flow method ("tvl1_tf") splits a job in three stages: ``process``
(here, in a worker) gives a ``Decoded`` video (its frames' JPEGs and grey
frames); one process computes the flow of many videos' pairs in batches
(``flow.FlowBatcher``); ``encode`` (here again) turns the fields into the
record. The record is the one a single stage would make.

Workers never import TensorFlow and run OpenCV with one thread
(``init_worker``), which also keeps TV-L1 deterministic.
"""

import dataclasses

import cv2
import numpy as np

from iastp_tf.data.prepare import compensation, flow as flow_lib, rawframes, records, splits
from iastp_tf.data.prepare import video as video_lib


@dataclasses.dataclass(frozen=True)
class PrepareOptions:
    """How each video becomes a record.

    Attributes:
      flow: "tvl1", "tvl1_tf" (TV-L1 in TensorFlow, batched across videos),
        "farneback" or "none".
      flow_compensation: also store motion-compensated flow (SPEC §6).
      resize: ``(width, height)`` of the stored frames (TSN: 340x256), or None
        to keep the source size.
      short_side: if set, wins over ``resize``: shorter side to this length,
        aspect ratio kept.
      jpeg_quality: JPEG quality of RGB frames and flow fields.
      tvl1_scales, tvl1_warps: TV-L1 pyramid levels and warps per level
        (OpenCV's defaults 5 and 5; see ``flow.FlowEstimator``).
      tvl1_preset: flow "tvl1_tf" only: "opencv" (``cv2.optflow``'s defaults)
        or "denseflow" (OpenCV CUDA's, as denseflow/TSN use).
    """

    flow: str = "tvl1"
    flow_compensation: bool = False
    resize: tuple[int, int] | None = (340, 256)
    short_side: int | None = None
    jpeg_quality: int = records.DEFAULT_JPEG_QUALITY
    tvl1_scales: int = 5
    tvl1_warps: int = 5
    tvl1_preset: str = "opencv"

    def __post_init__(self):
        if self.flow not in flow_lib.FLOW_METHODS:
            raise ValueError(f"flow must be one of {flow_lib.FLOW_METHODS}, got {self.flow!r}")
        if self.flow_compensation and self.flow == "none":
            raise ValueError("flow_compensation needs flow other than 'none'")
        if self.short_side is not None and self.short_side <= 0:
            raise ValueError(f"short_side must be positive, got {self.short_side}")
        if self.tvl1_preset not in flow_lib.TVL1_PRESETS:
            raise ValueError(f"tvl1_preset must be one of {flow_lib.TVL1_PRESETS}, got {self.tvl1_preset!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")


@dataclasses.dataclass(frozen=True)
class Job:
    """One video for a worker.

    Attributes:
      split, position: where the split's fixed shuffle put the video.
      entry: the video's split entry.
      kind: "video" (a file) or "rawframes" (a folder).
      path: the source; empty when it was not found.
      options: how to prepare it.
    """

    split: str
    position: int
    entry: splits.VideoEntry
    kind: str
    path: str
    options: PrepareOptions


@dataclasses.dataclass(frozen=True)
class Result:
    """What a worker made of a job: a record, or a one-line failure reason."""

    split: str
    position: int
    record: records.VideoRecord | None
    reason: str | None = None


@dataclasses.dataclass(frozen=True)
class Decoded:
    """A video whose flow a batched flow stage computes (``process`` -> flow -> ``encode``).

    Attributes:
      split, position: the job's.
      record: the record without its flow fields.
      grey: uint8 ``[T, H, W]``, the frames the flow is computed on.
      options: the job's options.
    """

    split: str
    position: int
    record: records.VideoRecord
    grey: np.ndarray
    options: PrepareOptions

    @property
    def key(self) -> tuple[str, int]:
        return self.split, self.position

    def without_grey(self) -> "Decoded":
        """This video once its frames went to the flow stage: ``encode`` needs the rest only."""
        return dataclasses.replace(self, grey=self.grey[:0])


_NO_FLOW = ((), (), (), ())


def init_worker() -> None:
    """Per-process set-up of a worker: one OpenCV thread."""
    cv2.setNumThreads(1)


def _failure(split: str, position: int, error: Exception) -> Result:
    reason = str(error) if isinstance(error, video_lib.VideoError) else f"{type(error).__name__}: {error}"
    return Result(split, position, None, " ".join(reason.split()))  # One line.


def process(job: Job) -> Result | Decoded:
    """Runs one job: its ``Result``; or, for a batched flow method, a ``Decoded`` video for the flow stage.

    No error of one video escapes (it becomes the result's reason).
    """
    try:
        if not job.path:
            raise video_lib.VideoError("missing file")
        build = video_record if job.kind == "video" else rawframes_record
        record, grey = build(job.path, job.entry, job.options)
        if grey is None:
            return Result(job.split, job.position, record)
        return Decoded(job.split, job.position, record, grey, job.options)
    except Exception as error:  # One bad video must never stop the run.
        return _failure(job.split, job.position, error)


def encode(decoded: Decoded, fields) -> Result:
    """The last stage: the record of a ``Decoded`` video with its flow fields (``T-1`` float32 ``[H, W, 2]``)."""
    try:
        flows = _flow_jpegs(fields, decoded.options)
        return Result(decoded.split, decoded.position, dataclasses.replace(
            decoded.record, flow_x=flows[0], flow_y=flows[1], flow_mc_x=flows[2], flow_mc_y=flows[3]))
    except Exception as error:  # One bad video must never stop the run.
        return _failure(decoded.split, decoded.position, error)


def _check_frame_count(count: int, options: PrepareOptions) -> None:
    if options.flow != "none" and count < 2:
        raise video_lib.VideoError(f"{count} frame: flow needs at least 2 frames")


def _flow_jpegs(fields, options: PrepareOptions):
    """Quantised JPEGs of float flow fields (``[H, W, 2]`` each), plus their compensated versions."""
    flow_x, flow_y, mc_x, mc_y = [], [], [], []
    for field in fields:
        quantized = records.quantize_flow(field)
        flow_x.append(records.encode_jpeg(quantized[..., 0], options.jpeg_quality))
        flow_y.append(records.encode_jpeg(quantized[..., 1], options.jpeg_quality))
        if options.flow_compensation:
            compensated = records.quantize_flow(compensation.compensate_flow(field))
            mc_x.append(records.encode_jpeg(compensated[..., 0], options.jpeg_quality))
            mc_y.append(records.encode_jpeg(compensated[..., 1], options.jpeg_quality))
    return flow_x, flow_y, mc_x, mc_y


def _computed_flow(frames: np.ndarray, options: PrepareOptions):
    """Flow JPEGs estimated on uint8 ``[T, H, W, 3]`` frames, and None; or, for a batched
    method, no flow yet and the uint8 ``[T, H, W]`` grey frames for the flow stage."""
    if options.flow in flow_lib.BATCHED_METHODS:
        return _NO_FLOW, np.stack([flow_lib.to_grey(frame) for frame in frames])
    estimator = flow_lib.FlowEstimator(options.flow, options.tvl1_scales, options.tvl1_warps)
    return _flow_jpegs(estimator.fields(frames), options), None


def _record(entry, frame_rate, height, width, frames, flows):
    return records.VideoRecord(
        media_id=entry.media_id,
        label_indices=entry.label_indices,
        label_names=entry.label_names,
        frame_rate=frame_rate,
        height=height,
        width=width,
        frames=frames,
        flow_x=flows[0],
        flow_y=flows[1],
        flow_mc_x=flows[2],
        flow_mc_y=flows[3],
    )


def video_record(path: str, entry: splits.VideoEntry, options: PrepareOptions):
    """Decodes, resizes and computes flow for one video file.

    Returns:
      (record, None); for a batched flow method, (record without flow, uint8
      ``[T, H, W]`` grey frames).

    Raises:
      video_lib.VideoError: the video cannot be read, or has one frame and flow is asked for.
    """
    frames, frame_rate = video_lib.read_video(path, options.resize, options.short_side)  # [T, h, w, 3]
    _check_frame_count(len(frames), options)
    flows, grey = (_NO_FLOW, None) if options.flow == "none" else _computed_flow(frames, options)
    jpegs = [records.encode_jpeg(f, options.jpeg_quality) for f in frames]
    return _record(entry, frame_rate, frames.shape[1], frames.shape[2], jpegs, flows), grey


def _decoded(jpegs, size) -> np.ndarray:
    """uint8 ``[T, height, width, 3]`` frames of JPEGs, resized to ``size = (height, width)``."""
    return np.stack([video_lib.resize_frame(rawframes.decode_jpeg(j), *size) for j in jpegs])


def _stored_flow(flow_x_paths, flow_y_paths, count, source_size, size, options: PrepareOptions):
    """Flow JPEGs from a rawframes folder's first ``count`` fields.

    Copied byte for byte when the size stays and no compensation is asked;
    otherwise dequantised, rescaled to ``size`` and quantised again (the
    compensated fields always are).
    """
    flow_x = [rawframes.read_bytes(p) for p in flow_x_paths[:count]]
    flow_y = [rawframes.read_bytes(p) for p in flow_y_paths[:count]]
    resized = size != source_size
    if not resized and not options.flow_compensation:
        return flow_x, flow_y, (), ()
    recoded = _flow_jpegs(rawframes.stored_flow_fields(flow_x, flow_y, source_size, size), options)
    return recoded if resized else (flow_x, flow_y, *recoded[2:])


def rawframes_record(directory: str, entry: splits.VideoEntry, options: PrepareOptions):
    """One record from a rawframes folder (see ``rawframes``), like ``video_record``.

    Steps: list the files; keep T = stored fields + 1 frames when flow is
    stored (extractors write T-1 or T fields); resize the frames if asked;
    then copy, rescale or compute the flow.

    Raises:
      video_lib.VideoError: no frames, a corrupt JPEG, or one frame and flow asked for.
    """
    images, flow_x_paths, flow_y_paths = rawframes.list_rawframes(directory)
    if not images:
        raise video_lib.VideoError("no img_*.jpg frames in rawframes folder")
    stored_fields = 0 if options.flow == "none" else min(len(flow_x_paths), len(flow_y_paths))
    if stored_fields:
        images = images[: stored_fields + 1]
    _check_frame_count(len(images), options)

    jpegs = [rawframes.read_bytes(p) for p in images]
    source_size = rawframes.decode_jpeg(jpegs[0]).shape[:2]
    size = video_lib.target_size(*source_size, options.resize, options.short_side)
    computes_flow = options.flow != "none" and not stored_fields
    decoded = _decoded(jpegs, size) if size != source_size or computes_flow else None  # [T, h, w, 3]
    if size != source_size:
        jpegs = [records.encode_jpeg(f, options.jpeg_quality) for f in decoded]

    grey = None
    if options.flow == "none":
        flows = _NO_FLOW
    elif computes_flow:
        flows, grey = _computed_flow(decoded, options)
    else:
        flows = _stored_flow(flow_x_paths, flow_y_paths, len(jpegs) - 1, source_size, size, options)
    return _record(entry, 0.0, size[0], size[1], jpegs, flows), grey

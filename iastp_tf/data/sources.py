"""Where the input pipeline gets a video's JPEGs: record shards or frame folders (SPEC §4).

Both sources present the same two things to :mod:`iastp_tf.data.pipeline`:

* a ``tf.data.Dataset`` of per-video items in the same order for the same
  seed: the videos are cut into the same shards (dataset.json ``num_shards``,
  contiguous runs of the split's video list), the shards are shuffled, read
  interleaved and the videos shuffled through the same buffer;
* :meth:`open` of one item, giving a :class:`Video` whose ``jpegs(modality,
  indices)`` returns the encoded JPEGs of the chosen frames only.

Sampling, cropping, flipping and normalising happen after that, in one code
path, so the same seed yields the same clips from either source.

Records (``<split>-SSSSS-of-NNNNN.tfrecord``): a video is one
SequenceExample, read whole; only the sequence features of the requested
modalities are parsed. The shard set is checked against dataset.json before
reading, and a shard that ends early or fails its checksum raises an error
naming it (the bytes read must add up to its size).

Frame folders (the TSN/mmaction2 rawframes layout): ``<frames_dir>/<media_id>/``
holds ``img_00001.jpg`` ... (1-based), ``flow_x_00001.jpg``, ``flow_y_...``
and optionally ``flow_mc_x_...``/``flow_mc_y_...``. dataset.json lists each
video's id, labels and frame and field counts, so nothing lists a directory:
a clip reads exactly its sampled files by path, whatever the video's length.
"""

import dataclasses
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from iastp_tf.data import decoder
from iastp_tf.data.prepare.records import FRAME_DIGITS, FRAME_PREFIXES, shard_bounds, shard_filename

SOURCES = ("auto", "records", "frames")
FORMATS = ("records", "frames", "both")
# TFRecord framing around each record: length (8) + its CRC (4) + data CRC (4).
_RECORD_OVERHEAD = 16


@dataclasses.dataclass
class Video:
    """One video as the pipeline sees it, whatever stores it.

    Attributes:
      media_id: tf.string scalar.
      labels: int64 ``[num_labels]``.
      counts: per modality, int32 scalar T (frames for RGB, fields for flow).
      frame_size: int32 ``[2]`` height and width of its frames (and flow
        fields, which have the frames' size).
      jpegs: ``jpegs(modality, indices)`` with ``indices`` int32 ``[N]``
        (static N) returns tf.string ``[P, N]``: the encoded JPEGs of those
        frames, one row per plane (1 for RGB, x and y for flow).
    """

    media_id: tf.Tensor
    labels: tf.Tensor
    counts: dict
    frame_size: tf.Tensor
    jpegs: Callable


def resolve_source(source, info, data_dir):
    """``"records"`` or ``"frames"``: what ``source`` means for this dataset.

    ``"auto"`` picks frame folders when dataset.json says they exist (format
    ``"frames"`` or ``"both"``), records otherwise.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    available = info.get("format", "records")
    if available not in FORMATS:
        raise ValueError(f"{data_dir}/dataset.json: format must be one of {FORMATS}, got {available!r}")
    if source == "auto":
        return "records" if available == "records" else "frames"
    if available not in (source, "both"):
        raise ValueError(
            f"source {source!r} asked for, but {data_dir} holds {available!r} only "
            f"(dataset.json format); use source='auto' or prepare with --output_format={source}"
        )
    return source


def ordered_videos(num_shards, read_shard, training, seed, shuffle_buffer):
    """Per-video items in the pipeline's order, the same for both sources.

    Args:
      num_shards: how many shards the split is cut into.
      read_shard: int64 scalar shard index -> ``tf.data.Dataset`` of its items.
      training: shuffle the shards and the videos.
      seed: None or an int; an int makes the order deterministic.
      shuffle_buffer: videos in the shuffle buffer (training only).
    """
    deterministic = seed is not None or not training
    shards = tf.data.Dataset.range(num_shards)
    if training:
        shards = shards.shuffle(num_shards, seed=seed, reshuffle_each_iteration=True)
    items = shards.interleave(
        read_shard,
        cycle_length=min(num_shards, 16),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )
    if training:
        items = items.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return items


class RecordParser:
    """Item = one serialized record, from a shard or made in memory (serving)."""

    def __init__(self, modalities):
        self.modalities = modalities

    def open(self, serialized):
        """:class:`Video` of one record; only the requested modalities' frames are parsed."""
        parsed = decoder.parse_video(serialized, self.modalities)
        counts = {m: tf.shape(parsed[m])[1] for m in self.modalities}
        return Video(
            media_id=parsed["media_id"],
            labels=parsed["labels"],
            counts=counts,
            frame_size=parsed["frame_size"],
            jpegs=lambda modality, indices: tf.gather(parsed[modality], indices, axis=1),  # [P, N]
        )


class RecordsSource(RecordParser):
    """Videos from ``<split>-SSSSS-of-NNNNN.tfrecord`` shards: item = one serialized record."""

    def __init__(self, data_dir, split, info, modalities):
        super().__init__(modalities)
        self.files, self.sizes = _check_shards(data_dir, split, info)
        self.num_shards = len(self.files)

    def read_shard(self, shard):
        """The serialized records of shard ``shard``; ends in an error naming a damaged shard.

        ``ignore_errors`` stops at the first record that is truncated or fails
        its CRC; the bytes read then fall short of the file size, and the
        sentinel after the last record turns that into an error naming the
        shard (TensorFlow's own DataLossError names only an offset).
        """
        path = tf.gather(tf.constant(self.files), shard)
        size = tf.gather(tf.constant(self.sizes, tf.int64), shard)
        records = tf.data.TFRecordDataset(path).ignore_errors().map(lambda record: (record, False))
        items = records.concatenate(tf.data.Dataset.from_tensors((tf.constant(b""), True)))

        def count(total, item):
            record, end = item
            total += tf.where(end, tf.constant(0, tf.int64), tf.cast(tf.strings.length(record), tf.int64) + _RECORD_OVERHEAD)
            return total, (record, end, total)

        def check(record, end, total):
            complete = tf.logical_or(tf.logical_not(end), tf.equal(total, size))
            message = (
                "is damaged (truncated or failing its checksum after {} bytes); delete it and "
                "rerun the prepare command, which re-creates missing shards"
            )
            asserted = tf.debugging.Assert(
                complete, ["shard", path, tf.strings.format(message, total)], summarize=1
            )
            with tf.control_dependencies([asserted]):
                return tf.identity(record), end

        items = items.scan(tf.constant(0, tf.int64), count).map(check)
        return items.filter(lambda record, end: tf.logical_not(end)).map(lambda record, end: record)

def _check_shards(data_dir, split, info):
    """The shard paths of ``split`` and their sizes in bytes, checked against dataset.json.

    Raises:
      ValueError: a shard dataset.json counts is missing, or there are none.
    """
    num_shards = info.get("num_shards", {}).get(split)
    if num_shards is None:  # a dataset.json from before shard counts were recorded
        files = sorted(tf.io.gfile.glob(os.path.join(data_dir, f"{split}-*-of-*.tfrecord")))
        if not files:
            raise ValueError(f"split {split!r} has no shards {split}-*-of-*.tfrecord in {data_dir}")
    else:
        files = [os.path.join(data_dir, shard_filename(split, s, num_shards)) for s in range(num_shards)]
    sizes, missing = [], []
    for path in files:
        try:
            sizes.append(tf.io.gfile.stat(path).length)
        except tf.errors.NotFoundError:
            missing.append(os.path.basename(path))
    if missing:
        raise ValueError(
            f"split {split!r} of {data_dir} misses {len(missing)} of its {len(files)} shards "
            f"(dataset.json num_shards): {', '.join(missing)}. Rerun the prepare command to "
            f"re-create them: {info.get('command', 'tools/prepare_dataset.py ...')}"
        )
    return files, sizes


class FramesSource:
    """Videos from frame folders listed in dataset.json: item = the video's position in the split."""

    def __init__(self, data_dir, split, info, modalities):
        self.modalities = modalities
        videos = info.get("videos", {}).get(split)
        if not videos:
            raise ValueError(f"split {split!r} lists no videos under 'videos' in {data_dir}/dataset.json")
        if any(m != "rgb" for m in modalities):
            short = [v["id"] for v in videos if v["num_fields"] < 1]
            if short:
                raise ValueError(
                    f"modality {modalities!r} needs flow, but {len(short)} videos of split {split!r} "
                    f"have no flow fields (dataset.json num_fields 0): {', '.join(short[:5])}"
                )
        root = os.path.join(data_dir, info.get("frames_dir", "frames"))  # absolute frames_dir wins
        self.num_videos = len(videos)
        self.num_shards = int(info.get("num_shards", {}).get(split, 1))
        self.folders = tf.constant([os.path.join(root, v["id"]) + "/" for v in videos])  # ends in "/"
        self.media_ids = tf.constant([v["id"] for v in videos])
        # Labels of video i: label_values[label_splits[i]:label_splits[i + 1]] (one slice,
        # cheaper per clip than indexing a RaggedTensor).
        self.label_values = tf.constant([label for v in videos for label in v["labels"]], tf.int64)
        self.label_splits = tf.constant(np.cumsum([0] + [len(v["labels"]) for v in videos]), tf.int64)
        self.num_frames = tf.constant([v["num_frames"] for v in videos], tf.int32)
        self.num_fields = tf.constant([v["num_fields"] for v in videos], tf.int32)
        # From dataset.json, so that a clip parses no JPEG header for it. When every video has
        # the same size (dataset.json frame_size; frames prepared with --resize), it is a
        # constant of the graph, and TensorFlow folds the crop-window arithmetic that depends on it.
        self.frame_sizes = tf.constant([[v["height"], v["width"]] for v in videos], tf.int32)  # [videos, 2]
        self.common_frame_size = info.get("frame_size")

    def read_shard(self, shard):
        """Positions of the videos of shard ``shard``: a contiguous run, as prepare cuts shards."""
        return tf.data.Dataset.range(*shard_bounds(shard, self.num_videos, self.num_shards))

    def open(self, position):
        """:class:`Video` at ``position``; its ``jpegs`` read the chosen files only."""
        folder = tf.gather(self.folders, position)
        counts = {
            m: tf.gather(self.num_frames if m == "rgb" else self.num_fields, position) for m in self.modalities
        }

        def jpegs(modality, indices):
            count, prefixes = indices.shape.num_elements(), FRAME_PREFIXES[modality]
            numbers = tf.strings.as_string(indices + 1, width=FRAME_DIGITS, fill="0")  # [N], 1-based: img_00001.jpg
            # One join per plane with Python-string prefixes: fewer per-clip ops than repeat + tile.
            paths = tf.concat([tf.strings.join([folder, prefix, numbers, ".jpg"]) for prefix in prefixes], 0)
            contents = tf.stack([tf.io.read_file(p) for p in tf.unstack(paths, num=len(prefixes) * count)])
            return tf.reshape(_checked_jpegs(contents, paths), [len(prefixes), count])  # [P, N]

        return Video(
            media_id=tf.gather(self.media_ids, position),
            labels=self.label_values[self.label_splits[position] : self.label_splits[position + 1]],
            counts=counts,
            frame_size=(tf.constant(self.common_frame_size, tf.int32) if self.common_frame_size
                        else tf.gather(self.frame_sizes, position)),
            jpegs=jpegs,
        )


def _checked_jpegs(contents, paths):
    """``contents`` once every one starts and ends like a JPEG; else an error naming the files.

    A JPEG starts with the SOI marker FF D8 and ends with EOI FF D9, so this
    catches empty, truncated and non-JPEG files before the decoder, whose own
    error names no file. (A file damaged only in the middle still fails in the
    decoder, without its name.)
    """
    length = tf.strings.length(contents)
    two = tf.fill(tf.shape(length), 2)
    # SOI and EOI joined: one comparison per file. Substrings of files shorter than 4
    # bytes overlap or come out short, so those never match the 4 marker bytes.
    markers = tf.strings.join([tf.strings.substr(contents, tf.zeros_like(length), two),
                               tf.strings.substr(contents, tf.maximum(length - 2, 0), two)])
    valid = tf.equal(markers, b"\xff\xd8\xff\xd9")

    def fail():
        # Only built into the error branch: naming the bad files costs nothing per clip.
        asserted = tf.debugging.Assert(
            False,
            [
                "frame files that are not complete JPEGs (empty, truncated or corrupt; re-create the "
                "frame folder by rerunning the prepare command):",
                tf.boolean_mask(paths, tf.logical_not(valid)),
            ],
            summarize=100,
        )
        with tf.control_dependencies([asserted]):
            return tf.identity(contents)

    return tf.cond(tf.reduce_all(valid), lambda: contents, fail)

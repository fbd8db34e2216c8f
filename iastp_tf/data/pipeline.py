"""The tf.data input pipeline over records or frame folders (SPEC §4 "Input pipeline").

Videos come from :mod:`iastp_tf.data.sources`: TFRecord shards (one record
per video) or frame folders in the TSN/mmaction2 rawframes layout, in the same
order for the same seed. For each video the frame indices are chosen with
graph ops (:mod:`iastp_tf.data.sampling`), the source hands over the encoded
JPEGs of those frames only, and only they are decoded -- and only inside the
crop window, since the crop is known before decoding. Then resize, batching
and prefetching. Everything after "get the JPEGs of these frames" is one code
path, so both sources yield identical clips.

Clips leave the pipeline as 0..255 values. The training flip and the
per-backbone normalisation are the model's first layer
(:class:`iastp_tf.layers.FramePreprocessing`): on an accelerator they cost the
host nothing, and they were the largest per-clip cost left here (issue 14).
The ten test crops' flips are views, not augmentation, and stay here.

Cost: a clip from records reads its video's whole record (and parses the
requested modalities' frames), so it grows with the video's length T; a clip
from frame folders reads only its sampled files. ``benchmarks/input_bench.py``
measures both against a loader that reads only the sampled files.

Several modalities can be read together (e.g. ``("rgb", "flow")`` for the
attention-fusion mode of SPEC §6): they share the frame indices and the crop,
and the frames come as a dict keyed by modality. A flow field t lies
between frames t and t+1, so a video of T frames has T - 1 fields; shared
indices are drawn over the shorter of the modalities and the longest snippet,
so the RGB frame of segment k is the first frame of flow snippet k.
"""

import gin
import tensorflow as tf

from iastp_tf.data import augmentation, decoder, sampling, snippets, sources
from iastp_tf.data.dataset_info import read_dataset_info
from iastp_tf.data.normalization import MODALITIES, default_input_size

SAMPLINGS = ("segments", "dense")
TEST_CROPS = (1, 10)
DEFAULT_NEW_LENGTH = {"rgb": 1, "flow": 5, "flow_mc": 5}  # L per modality when new_length is None


@gin.configurable
def make_dataset(
    data_dir,
    split,
    modality="rgb",
    backbone="tiny",
    batch_size=64,
    # Sampling (SPEC §4): TSN segments (K = 3 train, 25 test) or TSM dense clips.
    num_segments=3,
    sampling="segments",
    new_length=None,
    frame_stride=8,
    num_clips=10,
    # Views and augmentation.
    input_size=None,
    training=True,
    test_crops=1,
    # Reading.
    shuffle_buffer=256,
    repeat=False,
    seed=None,
    multi_label=None,
    source="auto",
):
    """A batched, prefetched ``tf.data.Dataset`` of clips from a dataset directory.

    Args:
      data_dir: directory with ``dataset.json`` and ``<split>-SSSSS-of-NNNNN.tfrecord``
        shards and/or frame folders (SPEC §4).
      split: which shards to read, e.g. ``"train"`` or ``"test"``.
      modality: ``"rgb"``, ``"flow"``, ``"flow_mc"`` (motion-compensated flow,
        SPEC §6), or a tuple of them (frames then come as a dict).
      backbone: backbone name; picks the default input size.
      batch_size: videos per batch (training drops the last partial batch;
        testing keeps every video).
      num_segments: K, snippets per clip (``segments``) or frames per clip
        (``dense``, 8 for TSM).
      sampling: ``"segments"`` (TSN) or ``"dense"`` (TSM).
      new_length: L, frames per snippet; None for 1 (RGB) and 5 (flow). An
        int applies to every modality.
      frame_stride: frames between two samples of a dense clip.
      num_clips: dense clips per video at test time (TSM: 10).
      input_size: S; None for the backbone's default.
      training: random sampling and multi-scale crop (True; the random flip
        is the model's, see the module docstring), or the deterministic test
        views (False).
      test_crops: 1 (centre crop) or 10 (corners + centre and their flips).
      shuffle_buffer: videos in the shuffle buffer (training only). Records
        hold whole videos, so this bounds memory; shards are shuffled too.
      repeat: repeat the records forever (for iteration-based schedules).
      seed: None, or an int making shuffling, sampling and augmentation
        reproducible (reading order is then deterministic too).
      multi_label: multi-hot labels (Charades); None reads ``dataset.json``.
      source: ``"records"``, ``"frames"`` (frame folders listed in
        dataset.json), or ``"auto"``: frames when the directory has them
        (dataset.json format ``"frames"`` or ``"both"``), else records. Both
        give the same clips for the same seed.

    Returns:
      training=True: ``(frames, labels)``, frames float32 ``[B, K, S, S, C]``
      with values 0..255, not normalised (C = 3L for RGB, 2L for flow: x0,
      y0, x1, y1, ...), labels int32 ``[B]``
      or float32 multi-hot ``[B, num_classes]``.
      training=False: ``(frames, labels, media_ids)``, frames
      ``[B, V, K, S, S, C]`` with V views per video (clips x crops, clip-major:
      ``num_clips`` for dense sampling, 1 for segments, times ``test_crops``),
      media_ids tf.string ``[B]``. Evaluation reshapes frames to
      ``[B*V, K, S, S, C]``, runs the model and averages the scores over V.
      With several modalities, frames is a dict ``{modality: tensor}``.
    """
    modalities = (modality,) if isinstance(modality, str) else tuple(modality)
    _check_arguments(
        modalities, batch_size, num_segments, sampling, new_length, frame_stride,
        num_clips, input_size, test_crops,
    )
    info = read_dataset_info(data_dir)
    _check_modalities_recorded(modalities, info, data_dir)
    if sources.resolve_source(source, info, data_dir) == "records":
        videos = sources.RecordsSource(data_dir, split, info, modalities)
    else:
        videos = sources.FramesSource(data_dir, split, info, modalities)
    if multi_label is None:
        multi_label = bool(info.get("multi_label", False))

    clip = _ClipMaker.with_defaults(
        videos, modalities, backbone, num_segments, sampling, new_length, frame_stride, num_clips, input_size,
        test_crops, num_classes=int(info["num_classes"]), multi_label=multi_label,
    )
    deterministic = seed is not None or not training
    items = sources.ordered_videos(videos.num_shards, videos.read_shard, training, seed, shuffle_buffer)
    if repeat:
        items = items.repeat()
    if training:
        # One random int64 per video, turned into its stateless seed.
        video_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        clips = tf.data.Dataset.zip(items, video_seeds).map(
            clip.training_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic
        )
    else:
        clips = items.map(clip.test_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return clips.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


_VIEW_DEFAULTS = {  # make_dataset's sampling and view arguments, with the paper's K = 25 test segments
    "num_segments": 25, "sampling": "segments", "new_length": None, "frame_stride": 8, "num_clips": 10,
    "input_size": None, "test_crops": 1,
}


def views_of_record(serialized, num_classes, modality="rgb", backbone="tiny", **view_arguments):
    """The test views of one serialized record, through the per-video step of ``make_dataset(training=False)``.

    For serving (``iastp_tf.evaluation.predict``): a video prepared in memory
    as a record gets exactly the frames evaluation would read from a shard.
    ``view_arguments`` are :func:`make_dataset`'s sampling and view arguments
    (``num_segments`` (25 here), ``sampling``, ``new_length``, ``frame_stride``,
    ``num_clips``, ``input_size``, ``test_crops``); ``num_classes`` sizes the labels.

    Returns:
      float32 ``[V, K, S, S, C]``, values 0..255 (a dict of them for several modalities).
    """
    unknown = set(view_arguments) - set(_VIEW_DEFAULTS)
    if unknown:
        raise ValueError(f"views_of_record got unknown arguments {sorted(unknown)}; known: {sorted(_VIEW_DEFAULTS)}")
    views = {**_VIEW_DEFAULTS, **view_arguments}
    modalities = (modality,) if isinstance(modality, str) else tuple(modality)
    _check_arguments(modalities, 1, **views)
    clip = _ClipMaker.with_defaults(sources.RecordParser(modalities), modalities, backbone, **views,
                                    num_classes=num_classes, multi_label=False)
    frames, _, _ = next(iter(tf.data.Dataset.from_tensors(serialized).map(clip.test_example)))
    return frames


def _check_arguments(
    modalities, batch_size, num_segments, sampling, new_length, frame_stride, num_clips,
    input_size, test_crops,
):
    if not modalities or any(m not in MODALITIES for m in modalities):
        raise ValueError(f"modality must be one of {MODALITIES} or a tuple of them, got {modalities!r}")
    if len(set(modalities)) != len(modalities):
        raise ValueError(f"modality lists a modality twice: {modalities!r}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if test_crops not in TEST_CROPS:
        raise ValueError(f"test_crops must be one of {TEST_CROPS}, got {test_crops!r}")
    positive = {
        "batch_size": batch_size,
        "num_segments": num_segments,
        "frame_stride": frame_stride,
        "num_clips": num_clips,
        "new_length": 1 if new_length is None else new_length,
        "input_size": 1 if input_size is None else input_size,
    }
    for name, value in positive.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_modalities_recorded(modalities, info, data_dir):
    """Flow needs records with flow; motion-compensated flow needs it stored."""
    flow = info.get("flow", {})
    if any(m in ("flow", "flow_mc") for m in modalities) and flow.get("method") == "none":
        raise ValueError(
            f"modality {modalities!r} needs flow, but the records in {data_dir} were "
            "prepared without flow (dataset.json: flow method 'none')"
        )
    if "flow_mc" in modalities and flow.get("compensated") is False:
        raise ValueError(
            f"modality 'flow_mc' needs motion-compensated flow, but the records in {data_dir} "
            "have none (dataset.json: flow compensated false)"
        )


class _ClipMaker:
    """Per-video graph functions: source item -> (frames, labels[, media_id]).

    ``videos`` is a source of :mod:`iastp_tf.data.sources`; everything here
    is shared by all sources.
    """

    def __init__(
        self, videos, modalities, num_segments, sampling, new_lengths, frame_stride,
        num_clips, input_size, test_crops, num_classes, multi_label,
    ):
        self.videos = videos
        self.modalities = modalities
        self.num_segments = num_segments
        self.sampling = sampling
        self.new_lengths = new_lengths
        self.frame_stride = frame_stride
        self.num_clips = num_clips
        self.input_size = input_size
        self.test_crops = test_crops
        self.num_classes = num_classes
        self.multi_label = multi_label

    @classmethod
    def with_defaults(
        cls, videos, modalities, backbone, num_segments, sampling, new_length, frame_stride, num_clips,
        input_size, test_crops, num_classes, multi_label,
    ):
        """``new_length`` None -> per modality (1 RGB, 5 flow); ``input_size`` None -> the backbone's."""
        return cls(
            videos=videos,
            modalities=modalities,
            num_segments=num_segments,
            sampling=sampling,
            new_lengths={m: new_length or DEFAULT_NEW_LENGTH[m] for m in modalities},
            frame_stride=frame_stride,
            num_clips=num_clips,
            input_size=input_size or default_input_size(backbone),
            test_crops=test_crops,
            num_classes=num_classes,
            multi_label=multi_label,
        )

    def training_example(self, item, video_seed):
        """One randomly sampled and cropped clip: ``(frames [K,S,S,C] 0..255, label)``."""
        video = self.videos.open(item)
        sampling_seed = tf.stack([video_seed, tf.constant(0, tf.int64)])
        crop_seed = tf.stack([video_seed, tf.constant(1, tf.int64)])
        starts = self._snippet_starts(video, training=True, seed=sampling_seed)  # [1, K]
        height, width = tf.unstack(video.frame_size)
        window = augmentation.multiscale_crop_window(height, width, crop_seed)  # shared by the modalities
        frames = {}
        for modality in self.modalities:
            jpegs = self._chosen_jpegs(video, starts, modality)
            planes = self._decode_planes(jpegs, modality, window)
            frames[modality] = tf.ensure_shape(self._snippets(planes, modality), self._clip_shape(modality))
        return self._frames_output(frames), self._labels(video)

    def test_example(self, item):
        """All test views: ``(frames [V,K,S,S,C], label, media_id)``."""
        video = self.videos.open(item)
        starts = self._snippet_starts(video, training=False, seed=None)  # [clips, K]
        height, width = tf.unstack(video.frame_size)
        frames = {}
        for modality in self.modalities:
            jpegs = self._chosen_jpegs(video, starts, modality)
            if self.test_crops == 1:
                window = augmentation.center_crop_window(height, width)
                centre = self._decode_planes(jpegs, modality, window)
                views = [self._snippets(centre, modality)]
            else:
                planes = self._decode_planes(jpegs, modality, window=None)
                windows = augmentation.test_crop_windows(height, width, 5)
                crops = [self._snippets(planes, modality, windows[i]) for i in range(5)]
                views = crops + [augmentation.flip_left_right(crop, modality) for crop in crops]
            clips = tf.stack(views, axis=1)  # [clips*K, crops, S, S, C]
            size, channels = self.input_size, self._channels(modality)
            clips = tf.reshape(  # [clips, K, crops, S, S, C]
                clips, [-1, self.num_segments, len(views), size, size, channels]
            )
            clips = tf.transpose(clips, [0, 2, 1, 3, 4, 5])  # [clips, crops, K, S, S, C]
            clips = tf.reshape(clips, [self._num_test_views] + self._clip_shape(modality))  # [V, K, S, S, C]
            frames[modality] = clips
        return self._frames_output(frames), self._labels(video), video.media_id

    @property
    def _num_test_views(self):
        """V: dense clips (1 for segments) times crops."""
        return (self.num_clips if self.sampling == "dense" else 1) * self.test_crops

    def _snippet_starts(self, video, training, seed):
        """int32 ``[clips, K]`` first frame of every snippet, shared by all modalities."""
        num_frames = tf.reduce_min([video.counts[m] for m in self.modalities])
        longest = max(self.new_lengths.values())
        if self.sampling == "segments":
            offsets = sampling.segment_offsets(
                num_frames, self.num_segments, longest, training=training, seed=seed
            )
            return offsets[tf.newaxis]  # [1, K]
        return sampling.dense_indices(
            num_frames,
            clip_len=self.num_segments,
            stride=self.frame_stride,
            num_clips=1 if training else self.num_clips,
            training=training,
            seed=seed,
        )

    def _chosen_jpegs(self, video, starts, modality):
        """tf.string ``[P, clips*K*L]``: the encoded frames of the snippets at ``starts``.

        The first is the frame at ``starts[0, 0]``, snippet-major then frame.
        """
        indices = snippets.snippet_indices(starts, self.new_lengths[modality], video.counts[modality])
        count = indices.shape.num_elements()
        return video.jpegs(modality, tf.reshape(indices, [count]))

    def _decode_planes(self, jpegs, modality, window):
        """Decodes the chosen frames.

        Args:
          jpegs: tf.string ``[P, N]`` from :meth:`_chosen_jpegs`.
          modality: their modality.
          window: int32 ``[4]`` crop window decoded, or None for whole frames.

        Returns:
          P uint8 tensors ``[N, h, w, c]`` (c = 3 RGB, 1 flow).
        """
        return [
            decoder.decode_jpegs(plane, decoder.JPEG_CHANNELS[modality], window)
            for plane in tf.unstack(jpegs, num=len(decoder.FRAME_KEYS[modality]))
        ]

    def _snippets(self, planes, modality, window=None):
        """Crops (optionally), resizes and stacks decoded planes into snippets.

        Args:
          planes: from :meth:`_decode_planes`.
          modality: their modality.
          window: int32 ``[4]`` region of the decoded frames to keep, or None.

        Returns:
          float32 ``[clips*K, S, S, C]``, values 0..255.
        """
        size, new_length = self.input_size, self.new_lengths[modality]
        if window is not None:
            planes = [augmentation.crop_frames(plane, window) for plane in planes]
        resized = [augmentation.resize_frames(plane, size) for plane in planes]  # [clips*K*L, S, S, c]
        if modality == "rgb":
            stacked = snippets.stack_frames(tf.reshape(resized[0], [-1, new_length, size, size, 3]))
        else:  # resized before interleaving: x and y stay one-channel images until the end
            flow_x, flow_y = (tf.reshape(plane, [-1, new_length, size, size]) for plane in resized)
            stacked = snippets.interleave_flow(flow_x, flow_y)
        return tf.ensure_shape(stacked, [None, size, size, self._channels(modality)])

    def _clip_shape(self, modality):
        """``[K, S, S, C]`` of one view."""
        return [self.num_segments, self.input_size, self.input_size, self._channels(modality)]

    def _channels(self, modality):
        """C of a snippet: 3L for RGB, 2L for flow."""
        return (3 if modality == "rgb" else 2) * self.new_lengths[modality]

    def _frames_output(self, frames):
        return frames[self.modalities[0]] if len(self.modalities) == 1 else frames

    def _labels(self, video):
        labels = video.labels
        if self.multi_label:
            one_hot = tf.one_hot(labels, self.num_classes, dtype=tf.float32)  # [n, N]
            return tf.minimum(tf.reduce_sum(one_hot, axis=0), 1.0)  # [N]
        return tf.cast(labels[0], tf.int32)


"""Reads the record format of SPEC §4: one ``tf.train.SequenceExample`` per video.

Parsing keeps the frames as encoded JPEG strings, and only those of the
requested modalities (the other feature lists are skipped, not copied);
:func:`decode_jpegs` then decodes only the frames the sampler chose, and only
the crop window of each, so a clip of K frames costs K (partial) JPEG decodes
however long the video is.
"""

import tensorflow as tf

from iastp_tf.data import features

# The JPEG planes of each modality: RGB frames, or the x and y fields of flow.
FRAME_KEYS = {
    "rgb": (features.IMAGE_ENCODED,),
    "flow": (features.FLOW_X_ENCODED, features.FLOW_Y_ENCODED),
    "flow_mc": (features.FLOW_MC_X_ENCODED, features.FLOW_MC_Y_ENCODED),
}
JPEG_CHANNELS = {"rgb": 3, "flow": 1, "flow_mc": 1}


def parse_video(serialized, modalities):
    """Parses one serialized SequenceExample.

    Args:
      serialized: scalar tf.string, one record.
      modalities: names from :data:`FRAME_KEYS` whose frames to keep.

    Returns:
      A dict with ``"media_id"`` (tf.string scalar), ``"labels"`` (int64
      ``[num_labels]``), ``"frame_size"`` (int32 ``[2]``: height, width of
      the stored frames) and, per modality, its encoded JPEGs as a tf.string
      ``[P, T]`` tensor: P = 1 plane for RGB (T frames), P = 2 planes (x, y)
      for flow (T = number of flow fields).
    """
    keys = [key for modality in modalities for key in FRAME_KEYS[modality]]
    context, sequence = tf.io.parse_single_sequence_example(
        serialized,
        context_features={
            features.MEDIA_ID: tf.io.FixedLenFeature([], tf.string),
            features.LABEL_INDEX: tf.io.VarLenFeature(tf.int64),
            features.HEIGHT: tf.io.FixedLenFeature([], tf.int64),
            features.WIDTH: tf.io.FixedLenFeature([], tf.int64),
        },
        sequence_features={key: tf.io.FixedLenSequenceFeature([], tf.string) for key in keys},
    )
    video = {
        "media_id": context[features.MEDIA_ID],
        "labels": tf.sparse.to_dense(context[features.LABEL_INDEX]),
        "frame_size": tf.cast(tf.stack([context[features.HEIGHT], context[features.WIDTH]]), tf.int32),
    }
    for modality in modalities:
        video[modality] = tf.stack([sequence[key] for key in FRAME_KEYS[modality]])  # [P, T]
    return video


def decode_jpegs(jpegs, channels, window=None):
    """Decodes JPEGs, optionally only inside ``window``.

    Args:
      jpegs: tf.string ``[N]`` JPEGs of one plane, all the same size (N static).
      channels: 3 for RGB, 1 for flow fields.
      window: optional int32 ``[4]`` crop ``[y, x, height, width]``; only that
        region is decoded (``tf.io.decode_and_crop_jpeg``). Pixels equal those
        of the whole decoded frame except in the window's first and last
        columns, whose chroma libjpeg upsamples from fewer neighbours (a few
        levels of difference in colour frames).

    Returns:
      uint8 ``[N, h, w, channels]``.
    """
    count = jpegs.shape.num_elements()
    if count is None:
        raise ValueError(f"jpegs must have a static shape, got {jpegs.shape}")
    # One op per frame (N is small and static) rather than a tf.map_fn loop:
    # no loop overhead, and the decodes can run in parallel.
    chosen = tf.unstack(jpegs, num=count)
    if window is None:
        frames = [tf.io.decode_jpeg(jpeg, channels=channels) for jpeg in chosen]
    else:
        frames = [tf.io.decode_and_crop_jpeg(jpeg, window, channels=channels) for jpeg in chosen]
    return tf.stack(frames)  # [N, h, w, channels]

"""CIFAR-100 as one-frame clips, for the image experiment of Table 6 (SPEC §4).

Images come from ``tfds.load("cifar100")`` (``data_dir`` points at a prepared
copy; nothing is downloaded unless TFDS is allowed to). Training uses the
usual pad-and-crop augmentation: pad 4 pixels of zeros on each side, take a
random 32 x 32 crop; the random horizontal flip and the normalisation are the
model's first layer, as for videos (:class:`iastp_tf.layers.FramePreprocessing`).
Each image becomes a clip of K = 1 frame with values 0..255, so the stream
model and the attention layer run unchanged; the element structure matches
:func:`iastp_tf.data.pipeline.make_dataset`.
"""

import gin
import tensorflow as tf
import tensorflow_datasets as tfds

IMAGE_SIZE = 32


@gin.configurable
def make_cifar100_dataset(
    split,
    batch_size=128,
    training=True,
    input_size=None,
    padding=4,
    shuffle_buffer=10000,
    repeat=False,
    seed=None,
    data_dir=None,
):
    """A batched, prefetched CIFAR-100 dataset of one-frame clips.

    Args:
      split: a TFDS split, e.g. ``"train"``, ``"test"``, ``"train[:90%]"``.
      batch_size: images per batch (training drops the last partial batch).
      training: pad-and-crop (True), or the images as they are.
      input_size: S; None keeps 32, otherwise images are resized to S.
      padding: pixels of zero padding on each side before the random crop.
      shuffle_buffer: images in the shuffle buffer (training only).
      repeat: repeat forever (for iteration-based schedules).
      seed: None, or an int making shuffling and augmentation reproducible.
      data_dir: TFDS data directory; None for TFDS's default.

    Returns:
      training=True: ``(frames [B, 1, S, S, 3] float32 0..255, labels int32 [B])``.
      training=False: ``(frames [B, 1, 1, S, S, 3], labels, ids tf.string [B])``
      (one view of a one-frame clip).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be a non-negative int, got {padding!r}")
    if input_size is not None and (not isinstance(input_size, int) or input_size < 1):
        raise ValueError(f"input_size must be a positive int or None, got {input_size!r}")
    size = input_size or IMAGE_SIZE
    images = tfds.load(
        "cifar100", split=split, data_dir=data_dir, shuffle_files=training,
        read_config=tfds.ReadConfig(shuffle_seed=seed),
    )

    def frames_of(image):
        frames = tf.cast(image, tf.float32)
        if size != IMAGE_SIZE:
            frames = tf.image.resize(frames, [size, size], method="bilinear")
        return frames[tf.newaxis]  # [1, S, S, 3]

    def training_example(example, image_seed):
        crop_seed = tf.stack([image_seed, tf.constant(0, tf.int64)])
        padded = tf.pad(example["image"], [[padding, padding], [padding, padding], [0, 0]])
        image = tf.image.stateless_random_crop(padded, [IMAGE_SIZE, IMAGE_SIZE, 3], crop_seed)
        return frames_of(image), tf.cast(example["label"], tf.int32)

    def test_example(example):
        return frames_of(example["image"])[tf.newaxis], tf.cast(example["label"], tf.int32), example["id"]

    if training:
        images = images.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        images = images.repeat()
    if training:
        image_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        examples = tf.data.Dataset.zip(images, image_seeds).map(
            training_example, num_parallel_calls=tf.data.AUTOTUNE
        )
    else:
        examples = images.map(test_example, num_parallel_calls=tf.data.AUTOTUNE)
    return examples.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)

"""CIFAR-100 one-frame clips, driven by tfds.testing.mock_data (no download)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from iastp_tf.data.cifar import make_cifar100_dataset


def _mock_examples(count):
    """The examples mock_data serves, read straight from TFDS (the reference route)."""
    return list(tfds.as_numpy(tfds.load("cifar100", split="test").take(count)))


def test_test_clips_are_the_images_as_they_are():
    with tfds.testing.mock_data(num_examples=6):
        reference = _mock_examples(6)
        dataset = make_cifar100_dataset("test", batch_size=4, training=False)
        batches = list(dataset)
    frames = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    ids = np.concatenate([b[2].numpy() for b in batches])
    assert batches[0][0].shape == (4, 1, 1, 32, 32, 3) and batches[0][0].dtype == tf.float32
    assert frames.shape == (6, 1, 1, 32, 32, 3)  # the partial last batch is kept
    np.testing.assert_allclose(frames[:, 0, 0], np.stack([r["image"] for r in reference]), atol=1e-6)
    np.testing.assert_array_equal(labels, [r["label"] for r in reference])
    np.testing.assert_array_equal(ids, [r["id"] for r in reference])


def test_training_pads_and_crops():
    with tfds.testing.mock_data(num_examples=8):
        images = [r["image"] for r in _mock_examples(8)]
        dataset = make_cifar100_dataset("train", batch_size=8, seed=1, shuffle_buffer=1)
        (frames, labels), = list(dataset)
    assert frames.shape == (8, 1, 32, 32, 3) and labels.dtype == tf.int32
    pixels = np.rint(frames.numpy()[:, 0]).astype(np.int64)  # 0..255: the model flips and normalises
    candidates = []  # every padded crop of every image
    for image in images:
        padded = np.pad(image, [(4, 4), (4, 4), (0, 0)]).astype(np.int64)
        for y in range(9):
            for x in range(9):
                crop = padded[y : y + 32, x : x + 32]
                candidates.append(crop)
    for i, clip in enumerate(pixels):
        assert any(np.array_equal(clip, c) for c in candidates), f"clip {i} is no padded crop"
    assert not all(np.array_equal(clip, image) for clip, image in zip(pixels, images))


def test_resize_and_bad_arguments():
    with tfds.testing.mock_data(num_examples=2):
        frames, _ = next(iter(make_cifar100_dataset("train", batch_size=2, input_size=48)))
    assert frames.shape == (2, 1, 48, 48, 3)
    with pytest.raises(ValueError, match="batch_size"):
        make_cifar100_dataset("train", batch_size=0)
    with pytest.raises(ValueError, match="padding"):
        make_cifar100_dataset("train", padding=-1)

"""Crops, flips, snippet stacking and normalisation against NumPy / Keras references."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data import augmentation, snippets
from iastp_tf.data.normalization import default_input_size, normalize


def test_flipped_flow_snippet_inverts_x_and_keeps_y():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(2, 5, 6, 7)).astype(np.float32)  # [N, L, H, W]
    y = rng.integers(0, 256, size=(2, 5, 6, 7)).astype(np.float32)
    flipped = augmentation.flip_left_right(snippets.interleave_flow(x, y), "flow").numpy()  # [N, H, W, 10]
    for step in range(5):
        np.testing.assert_allclose(flipped[..., 2 * step], 255 - x[:, step, :, ::-1], atol=1e-4)
        np.testing.assert_allclose(flipped[..., 2 * step + 1], y[:, step, :, ::-1], atol=1e-4)


def test_flow_mc_flips_like_flow_and_rgb_is_only_mirrored():
    frames = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)
    mc = augmentation.flip_left_right(frames, "flow_mc").numpy()
    np.testing.assert_allclose(mc[..., 0::2], 255 - frames[:, :, ::-1, 0::2], atol=1e-4)
    np.testing.assert_allclose(mc[..., 1::2], frames[:, :, ::-1, 1::2], atol=1e-4)
    rgb = augmentation.flip_left_right(frames, "rgb").numpy()
    np.testing.assert_allclose(rgb, frames[:, :, ::-1, :], atol=1e-4)


def test_interleave_flow_orders_channels_x0_y0_x1_y1():
    x = np.stack([np.full((2, 3), 10 * s) for s in range(5)])[np.newaxis]  # [1, 5, 2, 3]
    y = x + 1
    stacked = snippets.interleave_flow(x, y).numpy()
    assert stacked.shape == (1, 2, 3, 10)
    np.testing.assert_array_equal(stacked[0, 0, 0], [0, 1, 10, 11, 20, 21, 30, 31, 40, 41])


def test_stack_frames_is_frame_major():
    frames = np.arange(2 * 3).reshape(1, 2, 1, 1, 3)  # [N=1, L=2, H=1, W=1, C=3]
    np.testing.assert_array_equal(snippets.stack_frames(frames).numpy()[0, 0, 0], [0, 1, 2, 3, 4, 5])


def test_snippet_indices_repeat_the_last_frame():
    indices = snippets.snippet_indices(tf.constant([[0, 3, 6]]), 5, 8).numpy()
    np.testing.assert_array_equal(
        indices, [[[0, 1, 2, 3, 4], [3, 4, 5, 6, 7], [6, 7, 7, 7, 7]]]
    )
    np.testing.assert_array_equal(snippets.snippet_indices(tf.constant([0]), 5, 2).numpy(), [[0, 1, 1, 1, 1]])


@pytest.mark.parametrize("height,width", [(256, 340), (48, 64), (300, 200)])
def test_multiscale_windows_use_tsn_scales_and_places(height, width):
    short = min(height, width)
    sides = [int(short * s) for s in (1.0, 0.875, 0.75, 0.66)]
    places, scale_pairs = set(), set()
    for seed in range(200):
        y, x, h, w = augmentation.multiscale_crop_window(height, width, seed=seed).numpy()
        i, j = sides.index(h), sides.index(w)
        assert abs(i - j) <= 1
        scale_pairs.add((i, j))
        h_step, w_step = (height - h) // 4, (width - w) // 4
        corners = {(0, 0), (0, 4 * w_step), (4 * h_step, 0), (4 * h_step, 4 * w_step), (2 * h_step, 2 * w_step)}
        assert (y, x) in corners
        places.add((y == 0, x == 0, y == 2 * h_step and h_step > 0))
        assert y + h <= height and x + w <= width
    assert len(scale_pairs) == 10  # all pairs with |i - j| <= 1
    assert len(places) >= 4


def test_same_seed_same_choice_at_any_frame_size():
    """Two modalities of one video share the crop: same seed, same relative window."""
    for seed in range(20):
        small = augmentation.multiscale_crop_window(128, 170, seed=seed).numpy()
        large = augmentation.multiscale_crop_window(256, 340, seed=seed).numpy()
        np.testing.assert_allclose(small / [128, 170, 128, 170], large / [256, 340, 256, 340], atol=0.02)


def test_test_windows_are_corners_and_centre_of_224_from_256():
    windows = augmentation.test_crop_windows(256, 340, 5).numpy()
    np.testing.assert_array_equal(
        windows,
        [[0, 0, 224, 224], [0, 116, 224, 224], [32, 0, 224, 224], [32, 116, 224, 224], [16, 58, 224, 224]],
    )
    np.testing.assert_array_equal(augmentation.center_crop_window(256, 340).numpy(), [16, 58, 224, 224])
    with pytest.raises(ValueError, match="num_crops"):
        augmentation.test_crop_windows(256, 340, 10)


@pytest.mark.parametrize(
    "backbone,mode", [("vgg16", "caffe"), ("resnet50", "caffe"), ("resnet50_tsm", "caffe"), ("inception_resnet_v2", "tf")]
)
def test_rgb_normalisation_matches_keras_preprocess_input(backbone, mode):
    rgb = np.random.default_rng(1).uniform(0, 255, size=(2, 3, 4, 4, 3)).astype(np.float32)
    expected = keras.applications.imagenet_utils.preprocess_input(rgb.copy(), mode=mode)
    np.testing.assert_allclose(normalize(rgb, backbone, "rgb").numpy(), expected, rtol=1e-6, atol=1e-4)


def test_bn_inception_and_stacked_rgb_and_flow_normalisation():
    pixel = np.array([10.0, 20.0, 30.0], np.float32)
    two_frames = np.concatenate([pixel, pixel + 1])[np.newaxis]  # [1, 6]: an L = 2 RGB snippet
    np.testing.assert_allclose(
        normalize(two_frames, "bn_inception", "rgb").numpy(),
        [[30 - 104, 20 - 117, 10 - 128, 31 - 104, 21 - 117, 11 - 128]],
    )
    flow = np.full((1, 10), 200, np.uint8)
    np.testing.assert_allclose(normalize(flow, "vgg16", "flow").numpy(), np.full((1, 10), 72.0))
    np.testing.assert_allclose(normalize(flow, "bn_inception", "flow").numpy(), np.full((1, 10), 72.0))
    np.testing.assert_allclose(normalize(flow, "tiny", "flow").numpy(), np.full((1, 10), 200 / 127.5 - 1), rtol=1e-6)
    np.testing.assert_allclose(normalize(flow, "inception_resnet_v2", "flow_mc").numpy(), np.full((1, 10), 200 / 127.5 - 1), rtol=1e-6)


def test_input_sizes_and_bad_names():
    assert [default_input_size(b) for b in ("tiny", "vgg16", "bn_inception", "resnet50", "inception_resnet_v2")] == [
        64, 224, 224, 224, 299
    ]
    with pytest.raises(ValueError, match="backbone"):
        default_input_size("alexnet")
    with pytest.raises(ValueError, match="modality"):
        normalize(np.zeros((1, 3)), "tiny", "depth")

"""FramePreprocessing against NumPy: each backbone's normalisation, the training flip, and where it runs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.layers import FramePreprocessing
from iastp_tf.training.strategy import make_strategy

# The input conventions written out again from the backbones' sources (not from
# iastp_tf.data.normalization): Keras "caffe" and TSN are BGR minus a mean, flow minus 128;
# Keras "tf" (IRV2) and the tiny CNN are x / 127.5 - 1.
_CAFFE_BGR = np.array([103.939, 116.779, 123.68])
_TSN_BGR = np.array([104.0, 117.0, 128.0])


def numpy_normalise(frames, backbone, modality):
    frames = np.asarray(frames, np.float64)
    if backbone in ("inception_resnet_v2", "tiny"):
        return frames / 127.5 - 1.0
    if modality != "rgb":
        return frames - 128.0
    mean = _TSN_BGR if backbone == "bn_inception" else _CAFFE_BGR
    snippet = frames.reshape(*frames.shape[:-1], -1, 3)[..., ::-1]  # each frame's RGB -> BGR
    return (snippet - mean).reshape(frames.shape)


def numpy_flip(frames, modality):
    """Mirrored width; flow x channels (0, 2, ...) become 255 - v."""
    flipped = np.asarray(frames, np.float64)[..., ::-1, :].copy()
    if modality != "rgb":
        flipped[..., 0::2] = 255.0 - flipped[..., 0::2]
    return flipped


def clips(batch, channels, seed=0, frames=2, size=5):
    return np.random.default_rng(seed).uniform(0, 255, (batch, frames, size, size, channels)).astype(np.float32)


@pytest.mark.parametrize("backbone", ["tiny", "vgg16", "resnet50", "bn_inception", "inception_resnet_v2"])
@pytest.mark.parametrize("modality,channels", [("rgb", 3), ("rgb", 6), ("flow", 10)])
def test_inference_normalises_as_the_backbone_expects(backbone, modality, channels):
    x = clips(3, channels)
    layer = FramePreprocessing(backbone, modality)
    expected = numpy_normalise(x, backbone, modality)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(layer(x, training=False), expected, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("backbone,modality,channels", [("bn_inception", "rgb", 3), ("vgg16", "flow", 10),
                                                        ("tiny", "flow", 4)])
def test_training_flips_each_clip_or_not(backbone, modality, channels):
    x = clips(64, channels)
    got = np.asarray(FramePreprocessing(backbone, modality, seed=1)(x, training=True))
    plain = numpy_normalise(x, backbone, modality)
    flipped = numpy_normalise(numpy_flip(x, modality), backbone, modality)
    is_plain = np.all(np.isclose(got, plain, atol=1e-4), axis=(1, 2, 3, 4))
    is_flipped = np.all(np.isclose(got, flipped, atol=1e-4), axis=(1, 2, 3, 4))
    assert np.all(is_plain != is_flipped)  # every clip one or the other, all its K frames alike
    assert 10 < is_flipped.sum() < 54  # about half (fails with probability < 1e-6)


def test_rgb_and_flow_of_a_clip_flip_together():
    rgb, flow = clips(32, 3, seed=1), clips(32, 10, seed=2)
    layer = FramePreprocessing("vgg16", ["rgb", "flow"], seed=3)
    got_rgb, got_flow = (np.asarray(y) for y in layer([rgb, flow], training=True))
    rgb_flipped = np.all(np.isclose(got_rgb, numpy_normalise(numpy_flip(rgb, "rgb"), "vgg16", "rgb"), atol=1e-4),
                         axis=(1, 2, 3, 4))
    flow_flipped = np.all(np.isclose(got_flow, numpy_normalise(numpy_flip(flow, "flow"), "vgg16", "flow"),
                                     atol=1e-4), axis=(1, 2, 3, 4))
    np.testing.assert_array_equal(rgb_flipped, flow_flipped)
    assert 0 < rgb_flipped.sum() < 32


def _flips(layer, x, modality="rgb", calls=1):
    """Which clips each call flipped: bool [calls, B]."""
    flipped = numpy_normalise(numpy_flip(x, modality), layer.backbone, modality)
    return np.array([np.all(np.isclose(np.asarray(layer(x, training=True)), flipped, atol=1e-4), axis=(1, 2, 3, 4))
                     for _ in range(calls)])


def test_flips_change_from_call_to_call_and_repeat_with_the_seed():
    x = clips(32, 3)
    first = _flips(FramePreprocessing("tiny", "rgb", seed=5), x, calls=3)
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    np.testing.assert_array_equal(_flips(FramePreprocessing("tiny", "rgb", seed=5), x, calls=3), first)


def test_the_flip_seed_is_a_variable_the_training_loop_checkpoints():
    model = keras.Sequential([keras.Input((2, 5, 5, 3)), FramePreprocessing("tiny", "rgb", seed=0)])
    states = [v for v in model.non_trainable_variables if "seed_generator" in v.path]  # as loop.py selects them
    assert len(states) == 1
    before = states[0].numpy().copy()
    model(clips(2, 3), training=True)
    assert not np.array_equal(states[0].numpy(), before)


def test_under_xla_the_values_are_right_and_the_flips_repeat_with_the_seed():
    x = clips(32, 10)
    plain = numpy_normalise(x, "bn_inception", "flow")
    flipped = numpy_normalise(numpy_flip(x, "flow"), "bn_inception", "flow")
    draws = []
    for _ in range(2):
        layer = FramePreprocessing("bn_inception", "flow", seed=7)
        step = tf.function(lambda clip, layer=layer: layer(clip, training=True), jit_compile=True)
        got = np.asarray(step(x))
        is_flipped = np.all(np.isclose(got, flipped, atol=1e-4), axis=(1, 2, 3, 4))
        assert np.all(is_flipped != np.all(np.isclose(got, plain, atol=1e-4), axis=(1, 2, 3, 4)))
        draws.append(is_flipped)
    assert 0 < draws[0].sum() < 32
    np.testing.assert_array_equal(draws[0], draws[1])


def test_replicas_flip_their_share_of_the_global_batch_as_one_device_would():
    strategy = make_strategy("mirrored", devices=["/cpu:0", "/cpu:1"])
    with strategy.scope():
        layer = FramePreprocessing("tiny", "rgb", seed=0)
    x = clips(32, 3)  # the global batch; replica r gets clips 16 r .. 16 r + 15
    flipped = numpy_normalise(numpy_flip(x, "rgb"), "tiny", "rgb")

    @tf.function
    def run():
        def replica_step():
            index = tf.distribute.get_replica_context().replica_id_in_sync_group
            return layer(tf.constant(x)[index * 16 : (index + 1) * 16], training=True)

        return strategy.experimental_local_results(strategy.run(replica_step))

    mirrored = np.concatenate([np.all(np.isclose(np.asarray(y), flipped[16 * r : 16 * (r + 1)], atol=1e-4),
                                      axis=(1, 2, 3, 4)) for r, y in enumerate(run())])
    one_device = _flips(FramePreprocessing("tiny", "rgb", seed=0), x)[0]
    assert 0 < one_device.sum() < 32
    np.testing.assert_array_equal(mirrored, one_device)


def test_float32_under_a_mixed_policy():
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = FramePreprocessing("vgg16", "rgb")
        x = clips(2, 3)
        y = layer(x)
    finally:
        keras.config.set_dtype_policy("float32")
    assert y.dtype == "float32"  # 0..255 values minus a mean need more than bfloat16's 8 bits
    np.testing.assert_allclose(y, numpy_normalise(x, "vgg16", "rgb"), rtol=1e-6, atol=1e-4)


def test_config_and_saved_model_round_trip(tmp_path):
    layer = FramePreprocessing("bn_inception", ["rgb", "flow_mc"], seed=4, name="preprocessing")
    config = layer.get_config()
    assert FramePreprocessing.from_config(config).get_config() == config
    assert keras.saving.get_registered_name(FramePreprocessing) == "iastp_tf>FramePreprocessing"
    rgb, flow = keras.Input((None, 5, 5, 3)), keras.Input((None, 5, 5, 10))
    model = keras.Model([rgb, flow], layer([rgb, flow]))
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    data = [clips(2, 3), clips(2, 10)]
    for a, b in zip(model.predict(data, verbose=0), reloaded.predict(data, verbose=0)):
        np.testing.assert_allclose(a, b)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="modalities"):
        FramePreprocessing("tiny", "depth")
    with pytest.raises(ValueError, match="backbone"):
        FramePreprocessing("alexnet", "rgb")
    with pytest.raises(ValueError, match="2 modalities"):
        FramePreprocessing("tiny", ["rgb", "flow"])([clips(1, 3)])

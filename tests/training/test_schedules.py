"""Learning-rate presets of paper §5 at their boundaries."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.training import schedules


@pytest.mark.parametrize(
    "preset, steps_per_epoch, expected, total",
    [
        ("spatial", None, {0: 1e-3, 3999: 1e-3, 4000: 1e-4, 7999: 1e-4, 8000: 1e-5, 11999: 1e-5}, 12000),
        ("temporal", None, {0: 5e-3, 11999: 5e-3, 12000: 5e-4, 23999: 5e-4, 24000: 5e-5, 29999: 5e-5}, 30000),
        # 10 iterations per epoch: epoch 40 starts at iteration 400.
        ("resnet50", 10, {0: 1e-2, 399: 1e-2, 400: 1e-3, 799: 1e-3, 800: 1e-4, 999: 1e-4}, 1000),
    ],
)
def test_presets_at_boundaries(preset, steps_per_epoch, expected, total):
    schedule, total_steps = schedules.learning_rate_schedule(preset, steps_per_epoch=steps_per_epoch)
    assert total_steps == total
    for step, rate in expected.items():
        assert float(schedule(step)) == pytest.approx(rate, rel=1e-6), step


def test_steps_per_epoch_drops_the_last_partial_batch_as_the_input_does():
    assert schedules.steps_per_epoch(9537, 64) == 149  # UCF101 split 1 train videos: 9537 = 149·64 + 1
    assert schedules.steps_per_epoch(128, 64) == 2
    # The training input yields exactly that many batches per pass.
    batches = tf.data.Dataset.range(9537).batch(64, drop_remainder=True).cardinality()
    assert int(batches) == schedules.steps_per_epoch(9537, 64)
    with pytest.raises(ValueError, match="exceeds"):
        schedules.steps_per_epoch(10, 64)


def test_overrides_and_config_round_trip():
    schedule, total = schedules.learning_rate_schedule("spatial", initial_learning_rate=0.1, boundaries=[2], total=5)
    assert total == 5
    np.testing.assert_allclose([float(schedule(s)) for s in (1, 2)], [0.1, 0.01], rtol=1e-6)
    assert isinstance(schedule, keras.optimizers.schedules.PiecewiseConstantDecay)
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    np.testing.assert_allclose([float(clone(s)) for s in (1, 2, 3)], [0.1, 0.01, 0.01], rtol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="preset"):
        schedules.learning_rate_schedule("nope")
    with pytest.raises(ValueError, match="steps_per_epoch"):
        schedules.learning_rate_schedule("resnet50")

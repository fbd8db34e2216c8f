"""Test-session set-up shared by every test.

TensorFlow reads its device configuration once, so the two logical CPU devices
that the `MirroredStrategy` tests need are made here, before any test runs.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with float32, a cleared Keras session and fixed seeds."""
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    np.random.seed(0)
    yield
    keras.config.set_dtype_policy("float32")

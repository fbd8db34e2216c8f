"""Strategies by name: one MirroredStrategy per device set, however it is named."""

import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.training.strategy import make_strategy


def test_default_and_explicit_devices_share_one_mirrored_strategy():
    # A second strategy over the same devices restarts TF's collective keys and
    # its all-reduces then fail with "Shape mismatch in the collective instance".
    implicit = make_strategy("mirrored")
    explicit = make_strategy("mirrored", devices=["/cpu:1", "/cpu:0"])
    assert implicit.num_replicas_in_sync == 2
    assert implicit is explicit


def test_all_reduces_of_other_shapes_after_another_route_to_the_strategy():
    """The sequence that failed in CI: a [3] all-reduce, then a [2] one named the other way."""
    for devices, shape in ((["/cpu:0", "/cpu:1"], 3), (None, 2)):
        strategy = make_strategy("mirrored", devices=devices)

        @tf.function
        def summed(strategy=strategy, shape=shape):
            def all_reduce():
                return tf.distribute.get_replica_context().all_reduce("sum", tf.ones([shape]))

            return strategy.experimental_local_results(strategy.run(all_reduce))

        for replica_sum in summed():
            np.testing.assert_allclose(replica_sum.numpy(), np.full(shape, 2.0))


def test_unknown_strategy_name_is_refused():
    with pytest.raises(ValueError, match="name must be one of"):
        make_strategy("tpu")

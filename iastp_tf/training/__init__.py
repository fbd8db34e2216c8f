"""iastp_tf.training."""

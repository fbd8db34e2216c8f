"""iastp_tf.layers."""

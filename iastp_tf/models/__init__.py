"""iastp_tf.models."""

"""iastp_tf.analysis."""

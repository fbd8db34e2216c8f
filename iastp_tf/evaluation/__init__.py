"""iastp_tf.evaluation."""

"""Data: records, preparation, sampling and the tf.data input pipeline (SPEC §4).

Depends on none of the model code.
"""

"""The paper's analysis figures and tables (paper §5.2-5.6, SPEC §7).

* :mod:`~iastp_tf.analysis.frames_sweep`: accuracy vs. frames at test time (Fig. 4B).
* :mod:`~iastp_tf.analysis.confusion`: difference of confusion matrices (Fig. 5).
* :mod:`~iastp_tf.analysis.class_gains`: per-class accuracy change (Tables 7/8).
* :mod:`~iastp_tf.analysis.salient` and :mod:`~iastp_tf.analysis.salient_plot`:
  salient receptive fields from the attention matrix (eqs. 17/18, Figs. 6/7),
  with :mod:`~iastp_tf.analysis.receptive_field` computing the windows.
* :mod:`~iastp_tf.analysis.trained`, :mod:`~iastp_tf.analysis.runs`,
  :mod:`~iastp_tf.analysis.score_pairs`: trained runs and score files as inputs.
* :mod:`~iastp_tf.analysis.param_table`: parameter counts (Table 10).
"""

"""Paper Fig. 5: difference of the confusion matrices of two score files.

    python tools/plot_confusion_diff.py --before=no_attention.npz \
        --after=attention.npz --output_prefix=out/fig5_confusion_diff

writes ``<prefix>.png`` (rows: predicted class, columns: true class; before −
after, the paper's sign; classes ordered by their diagonal change) and
``<prefix>.csv`` with the same matrix.
"""

from absl import app, flags

from iastp_tf.analysis.confusion import write_confusion_difference

_BEFORE = flags.DEFINE_string("before", None, "Scores .npz of the reference model (e.g. without attention).")
_AFTER = flags.DEFINE_string("after", None, "Scores .npz of the compared model (e.g. with attention).")
_OUTPUT_PREFIX = flags.DEFINE_string("output_prefix", None, "Path prefix of the .png and .csv written.")
_BEFORE_LABEL = flags.DEFINE_string("before_label", "without attention", "Name of the reference model.")
_AFTER_LABEL = flags.DEFINE_string("after_label", "with attention", "Name of the compared model.")
flags.mark_flags_as_required(["before", "after", "output_prefix"])


def main(argv):
    del argv
    written = write_confusion_difference(
        _BEFORE.value, _AFTER.value, _OUTPUT_PREFIX.value, _BEFORE_LABEL.value, _AFTER_LABEL.value
    )
    print(written.summary())


if __name__ == "__main__":
    app.run(main)

"""Paper Tables 7/8: classes ranked by the accuracy change between two score files.

    python tools/class_gains.py --before=no_attention.npz --after=attention.npz \
        --output_prefix=out/tables7_8_class_gains --top=5

writes ``<prefix>.md`` (the ``top`` largest increases and decreases), ``<prefix>.csv``
(every class) and ``<prefix>.png`` (a bar per class), and prints the Markdown.
"""

from absl import app, flags

from iastp_tf.analysis.class_gains import write_class_gains

_BEFORE = flags.DEFINE_string("before", None, "Scores .npz of the reference model (e.g. without attention).")
_AFTER = flags.DEFINE_string("after", None, "Scores .npz of the compared model (e.g. with attention).")
_OUTPUT_PREFIX = flags.DEFINE_string("output_prefix", None, "Path prefix of the .md, .csv and .png written.")
_TOP = flags.DEFINE_integer("top", 5, "Rows in each of Tables 7 and 8.")
_BEFORE_LABEL = flags.DEFINE_string("before_label", "without attention", "Name of the reference model.")
_AFTER_LABEL = flags.DEFINE_string("after_label", "with attention", "Name of the compared model.")
flags.mark_flags_as_required(["before", "after", "output_prefix"])


def main(argv):
    del argv
    written = write_class_gains(
        _BEFORE.value, _AFTER.value, _OUTPUT_PREFIX.value, _TOP.value, _BEFORE_LABEL.value, _AFTER_LABEL.value
    )
    with open(written.tables[0]) as f:
        print(f.read())
    print(written.summary())


if __name__ == "__main__":
    app.run(main)

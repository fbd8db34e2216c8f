"""Paper Table 10: parameters of each backbone's stream with 0-3 attention scales.

    python tools/param_table.py [--backbones=vgg16,bn_inception,inception_resnet_v2]
        [--num_classes=101] [--max_scales=3] [--output_prefix=out/table10]

prints the Markdown table of :mod:`iastp_tf.analysis.param_table` (our counts,
the parameters the attention layer adds, the SPEC §3 formula and the paper's
Table 10 beside them), fails if a count differs from the formula, and with
``--output_prefix`` writes ``<prefix>.md`` and ``<prefix>.csv``.
"""

from absl import app, flags

from iastp_tf.analysis import param_table

_BACKBONES = flags.DEFINE_list("backbones", list(param_table.PAPER_TABLE_10), "Backbones, one row group each.")
_NUM_CLASSES = flags.DEFINE_integer("num_classes", 101, "Classifier width (101: UCF101).")
_MAX_SCALES = flags.DEFINE_integer("max_scales", 3, "Largest number of scales (4 possible for IRV2).")
_OUTPUT_PREFIX = flags.DEFINE_string("output_prefix", None, "Optional path prefix of the .md and .csv.")


def main(argv):
    del argv
    rows = []
    for backbone in _BACKBONES.value:
        rows += param_table.parameter_rows(backbone, _NUM_CLASSES.value, _MAX_SCALES.value)
    param_table.check_rows(rows)
    print(param_table.markdown_table(rows))
    if _OUTPUT_PREFIX.value:
        print("wrote", *param_table.write_table(rows, _OUTPUT_PREFIX.value))


if __name__ == "__main__":
    app.run(main)

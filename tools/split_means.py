r"""Per-split and mean results over the three official splits (paper Tables 12 and 13).

    # one stream:
    python tools/split_means.py --scores='runs/ucf101_split{split}/table4_irv2_rgb_both/eval_test/scores.npz'
    # late fusion of RGB and flow (TSN's 1 : 1.5), each split fused on its own:
    python tools/split_means.py \
        --scores='runs/ucf101_split{split}/table4_irv2_rgb_both/eval_test/scores.npz' \
        --scores='runs/ucf101_split{split}/table4_irv2_flow_both/eval_test/scores.npz' --weights=1,1.5

``{split}`` is replaced by 1, 2, 3 (``--splits``). Prints a Markdown table
(one row per split, then the mean) and writes it to ``--output`` if given.
"""

from absl import app, flags

from iastp_tf.evaluation.split_means import split_means

_SCORES = flags.DEFINE_multi_string("scores", [], "Score file pattern with {split}, one per stream; the first an .npz.")
_WEIGHTS = flags.DEFINE_list("weights", None, "One fusion weight per --scores (e.g. 1,1.5).")
_SPLITS = flags.DEFINE_list("splits", ["1", "2", "3"], "Split numbers.")
_NORMALIZATION = flags.DEFINE_enum("normalization", "none", ["none", "softmax"], "Per-stream score normalisation.")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the Markdown table here.")
flags.mark_flag_as_required("scores")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        weights = None if _WEIGHTS.value is None else [float(w) for w in _WEIGHTS.value]
        splits = [int(s) for s in _SPLITS.value]
        results = split_means(_SCORES.value, weights, splits, _NORMALIZATION.value)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error)) from None
    table = results.markdown()
    print(table)
    if _OUTPUT.value:
        with open(_OUTPUT.value, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    app.run(main)

"""Paper Fig. 4(B): accuracy of one trained model against the frames K used at test time.

    python tools/plot_frames_sweep.py --workdir=runs/ucf101_rgb_irv2 \
        --data_dir=records/ucf101 --output_prefix=out/fig4_frames \
        [--frames=1,5,10,15,20,25,30] [--gin_bindings="eval/make_dataset.test_crops = 1"]

rebuilds the model from the workdir's run.json, evaluates it once per K
(K TSN segments per test video) and writes ``<prefix>.png`` and ``<prefix>.csv``.
"""

import gin
from absl import app, flags

from iastp_tf.analysis.frames_sweep import DEFAULT_FRAME_COUNTS, write_frames_sweep
from iastp_tf.analysis.trained import load_trained_stream

_WORKDIR = flags.DEFINE_string("workdir", None, "Training run folder (operative_config.gin + weights).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Records folder with the test split.")
_OUTPUT_PREFIX = flags.DEFINE_string("output_prefix", None, "Path prefix of the .png and .csv written.")
_FRAMES = flags.DEFINE_list("frames", [str(k) for k in DEFAULT_FRAME_COUNTS], "Frame counts K to evaluate.")
_SPLIT = flags.DEFINE_string("split", "test", "Split to evaluate.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 4, "Videos per batch.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", "best", "'best', 'last' or a weights file.")
_GIN_FILE = flags.DEFINE_multi_string("gin_file", [], "Gin files for the test input (make_dataset).")
_GIN_BINDINGS = flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings parsed last.")
flags.mark_flags_as_required(["workdir", "data_dir", "output_prefix"])


def main(argv):
    del argv
    gin.parse_config_files_and_bindings(_GIN_FILE.value, _GIN_BINDINGS.value)
    trained = load_trained_stream(_WORKDIR.value, _CHECKPOINT.value)
    written = write_frames_sweep(
        trained.model,
        _DATA_DIR.value,
        _OUTPUT_PREFIX.value,
        frame_counts=[int(k) for k in _FRAMES.value],
        split=_SPLIT.value,
        batch_size=_BATCH_SIZE.value,
        **trained.dataset_kwargs,
    )
    print(written.summary())


if __name__ == "__main__":
    app.run(main)

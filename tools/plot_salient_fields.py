"""Paper Figs. 6/7: salient receptive fields of one test video (eqs. 17/18).

    python tools/plot_salient_fields.py \
        --workdirs=runs/rgb_1scale,runs/rgb_2scales,runs/rgb_3scales \
        --data_dir=records/ucf101 --output_prefix=out/salient [--video_id=...] \
        [--num_frames=5] [--output_position=0,0] [--frame=0] \
        [--output_threshold=0.5] [--frame_threshold=0.7] [--normalization=none]

rebuilds each run's model (e.g. with 1, 2 and 3 scales, one row each), reads
A for the video's K frames and writes ``<prefix>_fig6.png`` (eq. 17: one output
position, all frames), ``<prefix>_fig7.png`` (eq. 18: one frame, several output
positions) and ``<prefix>.csv`` (every selected position and its
receptive-field box in input pixels).
"""

from absl import app, flags

from iastp_tf.analysis.salient import NORMALIZATIONS
from iastp_tf.analysis.salient_plot import video_frames, write_salient_fields
from iastp_tf.analysis.trained import load_trained_stream

_WORKDIRS = flags.DEFINE_list("workdirs", None, "Training runs with pyramid attention, one row each.")
_LABELS = flags.DEFINE_list("labels", None, "Row labels; default from each run's num_scales.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Records folder of the video.")
_OUTPUT_PREFIX = flags.DEFINE_string("output_prefix", None, "Path prefix of the files written.")
_SPLIT = flags.DEFINE_string("split", "test", "Split the video is read from.")
_VIDEO_ID = flags.DEFINE_string("video_id", None, "Media id of the video; default: the split's first.")
_NUM_FRAMES = flags.DEFINE_integer("num_frames", 5, "K frames of the video (the paper shows 5).")
_OUTPUT_POSITION = flags.DEFINE_list("output_position", ["0", "0"], "Eq. 17's output position h_m,w_m.")
_FRAME = flags.DEFINE_integer("frame", 0, "Eq. 18's frame t (0-based).")
_OUTPUT_THRESHOLD = flags.DEFINE_float("output_threshold", 0.5, "Eq. 17's threshold.")
_FRAME_THRESHOLD = flags.DEFINE_float("frame_threshold", 0.7, "Eq. 18's threshold.")
_NORMALIZATION = flags.DEFINE_enum(
    "normalization", "none", NORMALIZATIONS, "'none': A as is (the paper); 'column_range': each column rescaled to 0..1 first."
)
_CHECKPOINT = flags.DEFINE_string("checkpoint", "best", "'best', 'last' or a weights file.")
flags.mark_flags_as_required(["workdirs", "data_dir", "output_prefix"])


def main(argv):
    del argv
    runs = [load_trained_stream(workdir, _CHECKPOINT.value) for workdir in _WORKDIRS.value]
    labels = _LABELS.value or [run.label for run in runs]
    if len(labels) != len(runs):
        raise app.UsageError(f"--labels has {len(labels)} entries for {len(runs)} --workdirs")
    video_id, label, frames = video_frames(
        _DATA_DIR.value, _NUM_FRAMES.value, _SPLIT.value, _VIDEO_ID.value, **runs[0].dataset_kwargs
    )
    print(f"video {video_id} (class {label}), {_NUM_FRAMES.value} frames")
    written = write_salient_fields(
        list(zip(labels, (run.model for run in runs))),
        frames,
        runs[0].modality,
        _OUTPUT_PREFIX.value,
        output_position=tuple(int(v) for v in _OUTPUT_POSITION.value),
        frame=_FRAME.value,
        output_threshold=_OUTPUT_THRESHOLD.value,
        frame_threshold=_FRAME_THRESHOLD.value,
        normalization=_NORMALIZATION.value,
    )
    for figure in written:
        print(figure.summary())


if __name__ == "__main__":
    app.run(main)

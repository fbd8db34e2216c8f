r"""Writes the toy dataset: small videos of moving shapes, class = motion (SPEC §4).

  python tools/make_toy_dataset.py --output_dir=toy_videos
  python tools/make_toy_dataset.py --output_dir=toy_pan --camera_pan   # for flow_mc
  python tools/make_toy_dataset.py --output_dir=toy_sparse --frames=18 \
      --evidence_spans=3 --distractors=2   # the ablation variant (make demo-ablation)
  python tools/prepare_dataset.py --dataset=ucf101 --videos_dir=toy_videos \
      --output_dir=toy_records --resize=none

Class folders of real video files plus UCF101-style classInd.txt,
trainlist01.txt and testlist01.txt; see iastp_tf/data/prepare/toy.py for what
the videos show. Same seed, same files.
"""

import time

from absl import app, flags

from iastp_tf.data.prepare import toy
from iastp_tf.data.prepare import video as video_lib

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder to write the videos and split files to.")
_NUM_CLASSES = flags.DEFINE_integer("num_classes", 6, f"Classes, 2..{len(toy.TOY_CLASSES)}.")
_VIDEOS_PER_CLASS = flags.DEFINE_integer("videos_per_class", 20, "Videos per class (train + test).")
_FRAMES = flags.DEFINE_integer("frames", 16, "Frames per video.")
_SIZE = flags.DEFINE_string("size", "96x72", "WIDTHxHEIGHT of the videos.")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed; the same seed writes the same videos.")
_CAMERA_PAN = flags.DEFINE_bool("camera_pan", False, "Pan the whole scene (for motion-compensated flow).")
_FORMAT = flags.DEFINE_enum("format", "avi", sorted(toy.VIDEO_FORMATS), "avi (MJPG) or mp4 (mp4v).")
_APPEARANCE = flags.DEFINE_float(
    "appearance_correlation", 0.65, "Probability that a video's shape and colour are its class's own."
)
_TEST_FRACTION = flags.DEFINE_float("test_fraction", 0.3, "Fraction of each class in testlist01.txt.")
_CORRUPT = flags.DEFINE_bool(
    "corrupt", False, "Also add a truncated, an empty and a missing video to trainlist01.txt."
)

_EVIDENCE_SPANS = flags.DEFINE_integer(
    "evidence_spans", 1, "1: the class's shape in every frame; n > 1: in one of n equal time spans only."
)
_DISTRACTORS = flags.DEFINE_integer("distractors", 0, "Shapes shared by all classes, in every frame.")

flags.mark_flag_as_required("output_dir")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    size = video_lib.parse_size(_SIZE.value)
    if size is None:
        raise app.UsageError("--size must be WIDTHxHEIGHT")
    started = time.perf_counter()
    info = toy.make_toy_dataset(
        _OUTPUT_DIR.value,
        num_classes=_NUM_CLASSES.value,
        videos_per_class=_VIDEOS_PER_CLASS.value,
        frames=_FRAMES.value,
        size=size,
        seed=_SEED.value,
        camera_pan=_CAMERA_PAN.value,
        video_format=_FORMAT.value,
        appearance_correlation=_APPEARANCE.value,
        test_fraction=_TEST_FRACTION.value,
        corrupt=_CORRUPT.value,
        evidence_spans=_EVIDENCE_SPANS.value,
        distractors=_DISTRACTORS.value,
    )
    print(f"wrote {len(info['videos'])} videos of {len(info['class_names'])} classes "
          f"({', '.join(info['class_names'])}) to {_OUTPUT_DIR.value} in {time.perf_counter() - started:.1f} s; "
          f"{len(info['train'])} train and {len(info['test'])} test entries")


if __name__ == "__main__":
    app.run(main)

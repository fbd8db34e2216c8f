r"""Videos (or rawframes folders) to TFRecord shards and dataset.json (SPEC §4).

Examples:
  # UCF101 split 1, TV-L1 flow, all cores:
  python tools/prepare_dataset.py --dataset=ucf101 --videos_dir=UCF-101 \
      --splits_dir=ucfTrainTestlist --output_dir=data/ucf101_s1
  # A folder-per-class tree of any mp4/avi files, keeping their size:
  python tools/prepare_dataset.py --dataset=folder --videos_dir=my_videos \
      --output_dir=data/mine --resize=none
  # The same on Apache Beam (local DirectRunner here; Dataflow, Flink, Spark alike):
  python tools/prepare_dataset.py --dataset=ucf101 --videos_dir=UCF-101 \
      --splits_dir=ucfTrainTestlist --output_dir=data/ucf101_s1 --runner=beam \
      --beam_options="--runner=DirectRunner --direct_num_workers=4 --direct_running_mode=multi_processing"
  # TV-L1 in TensorFlow on the GPU, batched across videos (CPU workers decode and encode):
  python tools/prepare_dataset.py --dataset=ucf101 --videos_dir=UCF-101 \
      --splits_dir=ucfTrainTestlist --output_dir=data/ucf101_s1 --flow=tvl1_tf --flow_batch_size=64
  # Flow already extracted (TSN/mmaction2 rawframes), with motion-compensated flow:
  python tools/prepare_dataset.py --dataset=hmdb51 --rawframes_dir=rawframes \
      --splits_dir=testTrainMulti_7030_splits --output_dir=data/hmdb51_s1 \
      --flow_compensation

Stop it at any time and run the same command again: finished videos are kept.
Videos that cannot be read are listed in <output_dir>/failures.txt. A bad flag
or a missing folder ends the program with one line saying what is wrong.
"""

import os
import shlex
import sys

from absl import app, flags

from iastp_tf.native_logs import filter_native_logs

filter_native_logs()  # TensorFlow's native start-up lines stay out of the output (the parent writes shards with it)

from iastp_tf.data.prepare import flow as flow_lib  # noqa: E402
from iastp_tf.data.prepare import runner, splits  # noqa: E402
from iastp_tf.data.prepare import video as video_lib  # noqa: E402

_DATASET = flags.DEFINE_enum("dataset", "folder", list(splits.DATASETS), "Split format of the dataset.")
_VIDEOS_DIR = flags.DEFINE_string("videos_dir", None, "Root of the video files.")
_RAWFRAMES_DIR = flags.DEFINE_string(
    "rawframes_dir", None, "Root of TSN/mmaction2 rawframes folders, instead of --videos_dir."
)
_SPLITS_DIR = flags.DEFINE_string(
    "splits_dir", None, "Folder of the split files (default: --videos_dir or --rawframes_dir)."
)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Dataset directory to write (or resume).")
_SPLIT = flags.DEFINE_integer("split", 1, "Official split number (UCF101, HMDB51: 1..3).")
_FLOW = flags.DEFINE_enum(
    "flow", "tvl1", list(flow_lib.FLOW_METHODS),
    "Optical flow method. tvl1: OpenCV's TV-L1 on the CPU workers; tvl1_tf: the same TV-L1 in TensorFlow, "
    "run by this process on batches of frame pairs across videos (use it with a GPU); farneback; none.")
_TVL1_PRESET = flags.DEFINE_enum(
    "tvl1_preset", "opencv", list(flow_lib.TVL1_PRESETS),
    "--flow=tvl1_tf: opencv (cv2.optflow's defaults, as --flow=tvl1) or denseflow (OpenCV CUDA's, as TSN).")
_FLOW_BATCH_SIZE = flags.DEFINE_integer(
    "flow_batch_size", flow_lib.DEFAULT_FLOW_BATCH_SIZE,
    "--flow=tvl1_tf: frame pairs per TV-L1 call (larger keeps a GPU busier; the output does not change).")
_FLOW_COMPENSATION = flags.DEFINE_bool(
    "flow_compensation", False, "Also store motion-compensated flow (SPEC §6, flow_mc modality)."
)
_WORKERS = flags.DEFINE_integer(
    "workers", os.cpu_count() or 1, "Worker processes of --runner=local (0: in this process).")
_RESIZE = flags.DEFINE_string(
    "resize", "340x256", "WIDTHxHEIGHT of the stored frames, or 'none' to keep the source size "
    "(rawframes keep their size unless this flag is given)."
)
_SHORT_SIDE = flags.DEFINE_integer("short_side", 0, "If > 0, resize to this short side keeping the aspect ratio.")
_NUM_SHARDS = flags.DEFINE_integer("num_shards", 0, "Shards per split (0: one per 64 videos).")
_JPEG_QUALITY = flags.DEFINE_integer("jpeg_quality", 90, "JPEG quality of frames and flow fields.")
_TEST_FRACTION = flags.DEFINE_float(
    "test_fraction", 0.3, "--dataset=folder without train/test subfolders: fraction of each class held out."
)
_TVL1_SCALES = flags.DEFINE_integer("tvl1_scales", 5, "TV-L1 pyramid levels (OpenCV default 5).")
_TVL1_WARPS = flags.DEFINE_integer("tvl1_warps", 5, "TV-L1 warps per level (OpenCV default 5).")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar.")
_OUTPUT_FORMAT = flags.DEFINE_enum(
    "output_format", "records", list(runner.OUTPUT_FORMATS),
    "records: TFRecord shards; frames: a rawframes-layout folder per video under frames/; both.",
)
_RUNNER = flags.DEFINE_enum(
    "runner", "local", ["local", "beam"],
    "local: this machine (--workers processes); beam: an Apache Beam pipeline (needs the 'beam' extra).",
)
_BEAM_OPTIONS = flags.DEFINE_string(
    "beam_options", "", "--runner=beam: Beam pipeline options, e.g. \"--runner=DirectRunner "
    "--direct_num_workers=2 --direct_running_mode=multi_processing\" or Dataflow's options."
)

RESUME_HINT = "finished videos and shards are kept: run the same command again to resume"

flags.mark_flag_as_required("output_dir")


def main(argv):
    try:
        _prepare(argv)
    except KeyboardInterrupt:
        print(f"\ninterrupted; {RESUME_HINT}", file=sys.stderr)
        sys.exit(130)
    except (ValueError, OSError, RuntimeError, ImportError) as error:  # Expected failures: one line, no traceback.
        print(f"prepare_dataset: error: {error}", file=sys.stderr)
        sys.exit(2)


def _prepare(argv):
    if len(argv) > 1:
        raise ValueError(f"unexpected arguments: {argv[1:]}")
    if bool(_VIDEOS_DIR.value) == bool(_RAWFRAMES_DIR.value):
        raise ValueError("give exactly one of --videos_dir and --rawframes_dir")
    root = _VIDEOS_DIR.value or _RAWFRAMES_DIR.value
    resize = video_lib.parse_size(_RESIZE.value)
    if _RAWFRAMES_DIR.value and not flags.FLAGS["resize"].present:
        resize = None
    index = splits.read_dataset(
        _DATASET.value, root, _SPLITS_DIR.value, _SPLIT.value, _TEST_FRACTION.value,
        rawframes=bool(_RAWFRAMES_DIR.value),
    )
    options = runner.PrepareOptions(
        flow=_FLOW.value,
        flow_compensation=_FLOW_COMPENSATION.value,
        resize=resize,
        short_side=_SHORT_SIDE.value or None,
        jpeg_quality=_JPEG_QUALITY.value,
        tvl1_scales=_TVL1_SCALES.value,
        tvl1_warps=_TVL1_WARPS.value,
        tvl1_preset=_TVL1_PRESET.value,
    )
    job_runner = None
    if _RUNNER.value == "beam":
        from iastp_tf.data.prepare import beam_runner  # Only with the 'beam' extra installed.

        job_runner = beam_runner.BeamRunner(_BEAM_OPTIONS.value, _FLOW_BATCH_SIZE.value)
    counts = {split: sum(e.split == split for e in index.entries) for split in index.split_names()}
    print(f"{_DATASET.value}: {len(index.class_names)} classes, videos per split {counts}, "
          f"{len(index.failures)} unusable split-file lines", flush=True)
    summary = runner.prepare_dataset(
        index,
        _OUTPUT_DIR.value,
        videos_dir=_VIDEOS_DIR.value,
        rawframes_dir=_RAWFRAMES_DIR.value,
        options=options,
        workers=_WORKERS.value,
        num_shards=_NUM_SHARDS.value or None,
        command=shlex.join([os.path.basename(sys.executable), *sys.argv]),
        progress=_PROGRESS.value,
        output_format=_OUTPUT_FORMAT.value,
        runner=job_runner,
        flow_batch_size=_FLOW_BATCH_SIZE.value,
    )
    rate = summary.processed / summary.seconds if summary.seconds else 0.0
    print(f"wrote {summary.output_dir}: records per split {summary.split_counts}; "
          f"{summary.processed} videos processed in this run in {summary.seconds:.1f} s ({rate:.2f} videos/s)")
    if summary.failures:
        print(f"{len(summary.failures)} videos could not be prepared; one line each in "
              f"{os.path.join(summary.output_dir, runner.FAILURES_TXT)}:")
        for line in summary.failures[:10]:
            print("  " + line.replace("\t", "  "))
        if len(summary.failures) > 10:
            print(f"  ... and {len(summary.failures) - 10} more")


if __name__ == "__main__":
    app.run(main)

"""The paper's analysis figures for the runs of ``make demo`` (called by tools/demo_figures.sh).

    python tools/demo_figures.py --demo_dir=demo_out [--frames=1,2,3,5,10,20,30]

finds the training runs and score files under ``--demo_dir`` and writes into
``<demo_dir>/figures``:

* Fig. 4: ``fig4_frames_sweep.{png,csv}`` from the RGB run with the most scales;
* Fig. 5 and Tables 7/8: ``fig5_confusion_diff.{png,csv}`` and
  ``tables7_8_class_gains.{md,csv,png}`` from the test scores of an RGB run
  without attention and of that run;
* Figs. 6/7: ``salient_fig6.png``, ``salient_fig7.png``, ``salient.csv``
  from every RGB run with pyramid attention (1, 2, 3 scales: one row each)
  under ``--salient_dir`` (default ``<demo_dir>/sparse`` when it exists:
  sparse-evidence toy videos, whose ``toy_videos/evidence.json`` says which of
  the shown frames show the class's shape; Fig. 7 shows the first of them),
  else under ``--demo_dir``. When
  the paper's thresholds select nothing (a briefly trained model's attention is
  still nearly uniform), ``salient_relative_*`` are written as well, with each
  column of A rescaled to 0..1 and a threshold of 0.9 (near the column's peak).

A missing input skips its figure with a message saying what to run; the
program fails only when nothing at all could be drawn.
"""

import json
import os

from absl import app, flags

from iastp_tf.analysis import runs as runs_lib
from iastp_tf.analysis.class_gains import write_class_gains
from iastp_tf.analysis.confusion import write_confusion_difference
from iastp_tf.analysis.frames_sweep import write_frames_sweep
from iastp_tf.analysis.salient_plot import video_frames, write_salient_fields
from iastp_tf.analysis.trained import load_trained_stream
from iastp_tf.data.sampling import segment_offsets

_DEMO_DIR = flags.DEFINE_string("demo_dir", "demo_out", "Output folder of tools/demo.sh.")
_FRAMES = flags.DEFINE_list("frames", [str(k) for k in range(1, 31)], "Frame counts K for Fig. 4.")
_SALIENT_FRAMES = flags.DEFINE_integer("salient_frames", 5, "Frames of the video in Figs. 6/7.")
_SALIENT_DIR = flags.DEFINE_string(
    "salient_dir", None, "Runs and records for Figs. 6/7 (default: <demo_dir>/sparse when it exists, else "
    "--demo_dir); its toy_videos/evidence.json, when present, says which frames show each video's class."
)


def _skip(what, why):
    print(f"[demo_figures] skipped {what}: {why}")


def _data_dir(run, demo_dir):
    if run.data_dir and os.path.exists(os.path.join(run.data_dir, "dataset.json")):
        return run.data_dir
    records = runs_lib.find_records(demo_dir)
    return records[0] if records else None


def main(argv):
    del argv
    demo_dir = _DEMO_DIR.value
    figures = os.path.join(demo_dir, "figures")
    salient_dir = _SALIENT_DIR.value or os.path.join(demo_dir, "sparse")
    salient_dir = salient_dir if os.path.isdir(salient_dir) else None
    found = [run for run in runs_lib.find_runs(demo_dir)
             if salient_dir is None or not _is_under(run.workdir, salient_dir)]
    rgb = [run for run in found if run.modality == "rgb"]
    pyramid = sorted((run for run in rgb if run.has_pyramid), key=lambda run: run.num_scales)
    salient_runs = [run for run in (runs_lib.find_runs(salient_dir) if salient_dir else [])
                    if run.modality == "rgb" and run.has_pyramid]
    salient_runs = sorted(salient_runs, key=lambda run: run.num_scales) or pyramid
    baselines = [run for run in rgb if run.attention == "none" or run.num_scales == 0]  # TSN consensus
    baseline = next((run for run in baselines if run.scores), baselines[0] if baselines else None)
    print(f"[demo_figures] {len(found)} runs under {demo_dir}: "
          + ", ".join(f"{os.path.basename(r.workdir)} ({r.modality}, {r.attention}, {r.num_scales} scales)"
                      for r in found))
    written = []
    if not pyramid:
        _skip("Figs. 4, 6, 7", f"no RGB run with pyramid attention (a folder with operative_config.gin "
                               f"and weights) under {demo_dir}")
    else:
        main_run = pyramid[-1]
        data_dir = _data_dir(main_run, demo_dir)
        if data_dir is None:
            _skip("Figs. 4, 6, 7", f"no records folder (dataset.json) under {demo_dir}")
        else:
            trained = load_trained_stream(main_run.workdir)
            written.append(write_frames_sweep(
                trained.model, data_dir, os.path.join(figures, "fig4_frames_sweep"),
                frame_counts=[int(k) for k in _FRAMES.value], **trained.dataset_kwargs,
            ))
            salient_data = _data_dir(salient_runs[-1], salient_dir) if salient_runs is not pyramid else data_dir
            written += _salient_figures(salient_runs, salient_data, figures,
                                        os.path.join(salient_dir or demo_dir, "toy_videos", "evidence.json"))
    if baseline is None or baseline.scores is None or not pyramid or pyramid[-1].scores is None:
        _skip("Fig. 5 and Tables 7/8", "they need test scores (eval_test/scores.npz) of an RGB run without "
                                       "attention (build_stream_model.attention = 'none') and of one with it")
    else:
        before, after = baseline.scores, pyramid[-1].scores
        labels = ("without attention", f"{pyramid[-1].num_scales}-scale attention")
        written.append(write_confusion_difference(before, after, os.path.join(figures, "fig5_confusion_diff"),
                                                  *labels))
        written.append(write_class_gains(before, after, os.path.join(figures, "tables7_8_class_gains"), 5,
                                         *labels))
    if not written:
        raise app.UsageError(f"no figure could be drawn from {demo_dir}; run tools/demo.sh first")
    lines = [line for figure in written for line in figure.summary().splitlines()]
    print("\n".join(dict.fromkeys(lines)))  # Figs. 6 and 7 share their table
    print(f"[demo_figures] figures are in {figures}")


def _is_under(path, folder):
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)


def _salient_figures(pyramid, data_dir, figures, evidence_path):
    """Figs. 6/7 with the paper's thresholds, and relative ones when those select nothing."""
    trained = [load_trained_stream(run.workdir) for run in pyramid]
    video_id, label, frames = video_frames(data_dir, _SALIENT_FRAMES.value, **trained[0].dataset_kwargs)
    print(f"[demo_figures] Figs. 6/7 on test video {video_id} (class {label}) of {data_dir}, runs "
          + ", ".join(run.workdir for run in pyramid))
    frame = _evidence_frame(evidence_path, video_id, len(frames))
    models = [(run.label, run.model) for run in trained]
    written = list(write_salient_fields(models, frames, trained[0].modality,
                                        os.path.join(figures, "salient"), frame=frame))
    table = written[0].tables[0]
    with open(table) as f:
        selected = sum(1 for _ in f) - 1
    if selected == 0:
        print("[demo_figures] the paper's thresholds (0.5, 0.7) select no position: the toy models' attention "
              "is nearly uniform; also drawing each column rescaled to 0..1 with threshold 0.9 (salient_relative_*)")
        written += write_salient_fields(models, frames, trained[0].modality,
                                        os.path.join(figures, "salient_relative"), output_threshold=0.9,
                                        frame_threshold=0.9, normalization="column_range", frame=frame)
    return written


def _evidence_frame(path, video_id, num_shown):
    """Says which shown frames show the class (sparse-evidence toy videos); returns Fig. 7's frame (0-based)."""
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        evidence = json.load(f)
    if video_id not in evidence["videos"]:
        raise app.UsageError(f"{path} does not list video {video_id}")
    start, stop = evidence["videos"][video_id]
    shown = [int(t) for t in segment_offsets(evidence["frames"], num_shown).numpy()]  # the test segments' middles
    carrying = [i for i, t in enumerate(shown) if start <= t < stop]
    print(f"[demo_figures] the {num_shown} frames shown are video frames {shown}; the class's shape is in "
          f"frames {start}..{stop - 1}, i.e. in shown frames {carrying} (0-based); Fig. 7 shows frame "
          f"{carrying[0] if carrying else 0}")
    return carrying[0] if carrying else 0


if __name__ == "__main__":
    app.run(main)

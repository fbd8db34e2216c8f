"""tools/prepare_dataset.py end to end: toy tree, arbitrary files, kill and resume."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from iastp_tf.data import features
from iastp_tf.data.prepare import runner, splits, toy
from tests.data.prepare import outputs, videos

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "prepare_dataset.py")


def _command(*args):
    return [sys.executable, TOOL, "--progress=false", *args]


def _shards(directory):
    return {os.path.basename(p): open(p, "rb").read() for p in glob.glob(os.path.join(directory, "*.tfrecord"))}


@pytest.mark.slow
def test_toy_tree_as_ucf101_and_as_folder(tmp_path):
    toy.make_toy_dataset(str(tmp_path / "toy"), num_classes=3, videos_per_class=4, frames=5, size=(32, 24),
                         corrupt=True)
    result = subprocess.run(
        _command("--dataset=ucf101", f"--videos_dir={tmp_path / 'toy'}", f"--output_dir={tmp_path / 'ucf'}",
                 "--resize=none", "--workers=2", "--flow_compensation", "--tvl1_scales=2", "--tvl1_warps=2"),
        capture_output=True, text=True, errors="replace", cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "records per split {'train': 9, 'test': 3}" in result.stdout
    assert "3 videos could not be prepared" in result.stdout
    info = json.loads((tmp_path / "ucf" / "dataset.json").read_text())
    assert info["class_names"] == ["right_slow", "left_slow", "down_slow"]
    assert info["flow"] == {"method": "tvl1", "bound": 20.0, "compensated": True}
    assert info["frame_size"] == [24, 32] and info["failures"] == 3
    assert "--dataset=ucf101" in info["command"] and info["versions"]["tensorflow"] == tf.__version__
    assert len((tmp_path / "ucf" / "failures.txt").read_text().splitlines()) == 3

    result = subprocess.run(
        _command("--dataset=folder", f"--videos_dir={tmp_path / 'toy'}", f"--output_dir={tmp_path / 'folder'}",
                 "--resize=40x30", "--flow=farneback", "--workers=0", "--test_fraction=0.25"),
        capture_output=True, text=True, errors="replace", cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    info = json.loads((tmp_path / "folder" / "dataset.json").read_text())
    assert info["class_names"] == ["down_slow", "left_slow", "right_slow"]  # sorted folder names
    assert info["frame_size"] == [30, 40] and info["flow"]["method"] == "farneback"
    # 15 files: 12 good + truncated + empty in right_slow; every 4th file of a class is held out.
    assert info["splits"]["train"] + info["splits"]["test"] == 12 and info["failures"] == 2


def test_folder_of_arbitrary_mp4_and_avi_files(tmp_path):
    clips = {
        "cats/a.mp4": ("mp4v", videos.textured_translation(5, 40, 56, (1, 0), seed=1), 30.0),
        "cats/b.avi": ("MJPG", videos.textured_translation(9, 36, 64, (0, 1), seed=2), 12.5),
        "dogs/c.avi": ("XVID", videos.textured_translation(3, 48, 48, (-1, 1), seed=3), 25.0),
        "dogs/d.mp4": ("mp4v", videos.textured_translation(4, 30, 40, (1, 1), seed=4), 24.0),
    }
    for relative, (fourcc, frames, fps) in clips.items():
        (tmp_path / "in" / relative).parent.mkdir(parents=True, exist_ok=True)
        videos.write_video(tmp_path / "in" / relative, frames, fourcc, fps)
    result = subprocess.run(
        _command("--dataset=folder", f"--videos_dir={tmp_path / 'in'}", f"--output_dir={tmp_path / 'out'}",
                 "--short_side=24", "--flow=none", "--test_fraction=0", "--workers=0"),
        capture_output=True, text=True, errors="replace", cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    info = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert info["splits"] == {"train": 4} and info["frame_size"] is None and info["short_side"] == 24
    seen = {}
    for serialized in tf.data.TFRecordDataset(str(tmp_path / "out" / "train-00000-of-00001.tfrecord")):
        example = tf.train.SequenceExample.FromString(serialized.numpy())
        context = example.context.feature
        media_id = context[features.MEDIA_ID].bytes_list.value[0].decode()
        seen[media_id] = (
            len(example.feature_lists.feature_list[features.IMAGE_ENCODED].feature),
            context[features.HEIGHT].int64_list.value[0],
            context[features.WIDTH].int64_list.value[0],
            round(context[features.FRAME_RATE].float_list.value[0], 2),
        )
    assert seen == {
        "cats/a": (5, 24, round(56 * 24 / 40), 30.0),
        "cats/b": (9, 24, round(64 * 24 / 36), 12.5),
        "dogs/c": (3, 24, 24, 25.0),
        "dogs/d": (4, 24, 32, 24.0),
    }


def _tree(directory):
    """Every output file (shards, frame folders, failures.txt) by relative path, with its bytes."""
    files = outputs.file_tree(directory)
    files.pop("dataset.json")  # It records the command line, which names the directory.
    return files


def _saved_not_committed(partial):
    """(split, position) of the videos a killed run saved whose shard it had not committed."""
    saved = set()
    for path in glob.glob(str(partial / "*[0-9].json")):
        split, position = os.path.basename(path)[: -len(".json")].rsplit("-", 1)
        saved.add((split, int(position)))
    for path in glob.glob(str(partial / "*.done.json")):
        split = os.path.basename(path).rsplit("-", 1)[0]
        done = json.loads(open(path).read())
        saved -= {(split, position) for position, _ in done["videos"] + done["failures"]}
    return saved


@pytest.mark.slow
@pytest.mark.parametrize("output_format", ["records", "frames"])
def test_killed_tool_resumes_to_the_same_output(tmp_path, output_format):
    toy.make_toy_dataset(str(tmp_path / "toy"), num_classes=4, videos_per_class=5, frames=8, size=(64, 48))
    args = ["--dataset=ucf101", f"--videos_dir={tmp_path / 'toy'}", "--resize=none", "--num_shards=6",
            "--workers=1", "--tvl1_scales=2", "--tvl1_warps=2", f"--output_format={output_format}"]
    index = splits.read_ucf101(str(tmp_path / "toy"), 1)
    options = runner.PrepareOptions(resize=None, tvl1_scales=2, tvl1_warps=2)
    runner.prepare_dataset(index, str(tmp_path / "whole"), videos_dir=str(tmp_path / "toy"), options=options,
                           num_shards=6, progress=False, output_format=output_format)

    killed = tmp_path / "killed"
    process = subprocess.Popen(_command(*args, f"--output_dir={killed}"), cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    partial = killed / runner.PARTIAL_DIR
    while time.monotonic() < deadline and process.poll() is None:
        if glob.glob(str(partial / "*.done.json")) and glob.glob(str(partial / "*[0-9].json")):
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)  # The tool and its worker, mid-run.
    process.wait()
    assert not (killed / "dataset.json").exists()
    kept = len(_saved_not_committed(partial))

    result = subprocess.run(_command(*args, f"--output_dir={killed}"), capture_output=True, text=True,
                            errors="replace", cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    processed = int(result.stdout.split(" videos processed")[0].rsplit(" ", 1)[1])
    assert processed <= len(index.entries) - kept - 1  # finished shards and videos not redone
    assert _tree(killed) == _tree(tmp_path / "whole")
    assert bool(_shards(killed)) == (output_format == "records")
    info = json.loads((killed / "dataset.json").read_text())
    assert info["splits"] == {"train": 16, "test": 4} and info["format"] == output_format
    assert info["videos"] == json.loads((tmp_path / "whole" / "dataset.json").read_text())["videos"]


@pytest.mark.slow
def test_flow_tvl1_tf_with_the_denseflow_preset(tmp_path):
    toy.make_toy_dataset(str(tmp_path / "toy"), num_classes=2, videos_per_class=2, frames=4, size=(64, 48))
    result = subprocess.run(
        _command("--dataset=ucf101", f"--videos_dir={tmp_path / 'toy'}", f"--output_dir={tmp_path / 'out'}",
                 "--resize=none", "--workers=1", "--flow=tvl1_tf", "--tvl1_preset=denseflow", "--flow_batch_size=4",
                 "--tvl1_scales=2", "--tvl1_warps=2"),
        capture_output=True, text=True, errors="replace", cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    info = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert info["flow"]["method"] == "tvl1_tf" and info["splits"] == {"train": 4}
    assert info["tvl1"]["preset"] == "denseflow" and info["tvl1"]["params"]["nscales"] == 2
    # OpenCV CUDA's defaults (tvl1_tf.DENSEFLOW): one loop of 300 iterations per warp, no median filter.
    params = info["tvl1"]["params"]
    assert (params["inner_iterations"], params["outer_iterations"], params["median_filtering"]) == (300, 1, 1)
    assert {v["num_fields"] for split in info["videos"].values() for v in split} == {3}


def test_bad_input_gives_one_line_not_a_traceback(tmp_path):
    (tmp_path / "empty").mkdir()
    for args, expected in (
        ([f"--videos_dir={tmp_path / 'nowhere'}"], str(tmp_path / "nowhere")),
        ([f"--videos_dir={tmp_path / 'empty'}"], "no videos to prepare"),
        ([f"--videos_dir={tmp_path / 'empty'}", "--resize=big"], "resize must look like WIDTHxHEIGHT"),
        ([], "give exactly one of --videos_dir and --rawframes_dir"),
    ):
        result = subprocess.run(_command("--dataset=folder", f"--output_dir={tmp_path / 'out'}", *args),
                                capture_output=True, text=True, errors="replace", cwd=ROOT)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("prepare_dataset: error: "), result.stderr
        assert expected in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "dataset.json").exists()


def _start_and_wait_for_a_saved_video(tmp_path, workers):
    """Starts the tool on 20 toy videos and returns it once a video is saved in .partial.

    The tool starts with SIGINT at its default: a suite started in the background by a shell without
    job control inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler (the
    tool ran to the end and exited 0).
    """
    toy.make_toy_dataset(str(tmp_path / "toy"), num_classes=4, videos_per_class=5, frames=8, size=(64, 48))
    process = subprocess.Popen(
        _command("--dataset=ucf101", f"--videos_dir={tmp_path / 'toy'}", f"--output_dir={tmp_path / 'out'}",
                 "--resize=none", f"--workers={workers}", "--num_shards=1"),
        cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if glob.glob(str(tmp_path / "out" / runner.PARTIAL_DIR / "*[0-9].json")):  # a saved video
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be stopped"
    return process


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume(tmp_path):
    process = _start_and_wait_for_a_saved_video(tmp_path, workers=1)
    os.kill(process.pid, signal.SIGINT)  # The tool only, as Ctrl-C does (the workers are its children).
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "run the same command again to resume" in stderr and "Traceback" not in stderr


def _children(pid):
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = open(stat).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.split("/")[2]))
    return found


def _alive(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_workers_end_when_the_tool_is_killed(tmp_path):
    process = _start_and_wait_for_a_saved_video(tmp_path, workers=2)
    workers = [pid for pid in _children(process.pid)
               if "spawn_main" in open(f"/proc/{pid}/cmdline").read()]
    assert len(workers) == 2
    os.kill(process.pid, signal.SIGKILL)  # The tool only, not its process group.
    process.wait()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "worker processes outlived the killed tool"
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # Whatever is left of the group (on a failure).


def test_runner_beam_without_apache_beam_names_the_extra(tmp_path):
    hide_beam = ("import runpy, sys; sys.modules['apache_beam'] = None; "  # import apache_beam now fails
                 f"sys.argv = {[TOOL, '--progress=false']!r} + sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    toy.make_toy_dataset(str(tmp_path / "toy"), num_classes=2, videos_per_class=2, frames=2, size=(16, 16))
    result = subprocess.run(
        [sys.executable, "-c", hide_beam, "--dataset=ucf101", f"--videos_dir={tmp_path / 'toy'}",
         f"--output_dir={tmp_path / 'out'}", "--runner=beam"],
        capture_output=True, text=True, errors="replace", cwd=ROOT,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("prepare_dataset: error: the Beam runner needs")
    assert '".[beam]"' in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_killed_beam_job_reruns_to_the_uninterrupted_output(tmp_path):
    pytest.importorskip("apache_beam")
    toy.make_toy_dataset(str(tmp_path / "toy"), num_classes=4, videos_per_class=5, frames=8, size=(64, 48),
                         corrupt=True)
    args = ["--dataset=ucf101", f"--videos_dir={tmp_path / 'toy'}", "--resize=none", "--num_shards=4",
            "--tvl1_scales=2", "--tvl1_warps=2", "--output_format=both", "--runner=beam",
            "--beam_options=--runner=DirectRunner --direct_num_workers=1"]
    subprocess.run(_command(*args, f"--output_dir={tmp_path / 'whole'}"), check=True, cwd=ROOT,
                   capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(_command(*args, f"--output_dir={killed}"), cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        if len(glob.glob(str(killed / runner.PARTIAL_DIR / "*[0-9].json"))) >= 3:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the job finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "dataset.json").exists()
    kept = len(_saved_not_committed(killed / runner.PARTIAL_DIR))

    result = subprocess.run(_command(*args, f"--output_dir={killed}"), capture_output=True, text=True,
                            errors="replace", cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    processed = int(result.stdout.split(" videos processed")[0].rsplit(" ", 1)[1])
    assert kept >= 1 and processed <= 23 - kept  # 23 listed videos; the saved ones are not redone
    assert _tree(killed) == _tree(tmp_path / "whole")
    assert not (killed / runner.PARTIAL_DIR).exists()

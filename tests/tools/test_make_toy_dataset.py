"""tools/make_toy_dataset.py: real video files whose class is their motion."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from iastp_tf.data.prepare import splits, toy
from tests.data.prepare import videos

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run_tool(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_toy_dataset.py"), *args],
                          capture_output=True, text=True, check=True, cwd=ROOT)


def _tree_bytes(directory):
    out = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            out[os.path.relpath(path, directory)] = open(path, "rb").read()
    return out


def test_tool_writes_a_ucf101_style_tree_deterministically(tmp_path):
    args = ["--num_classes=4", "--videos_per_class=4", "--frames=6", "--size=48x32", "--seed=3"]
    result = _run_tool(f"--output_dir={tmp_path / 'a'}", *args)
    assert "wrote 16 videos of 4 classes" in result.stdout
    _run_tool(f"--output_dir={tmp_path / 'b'}", *args)
    _run_tool(f"--output_dir={tmp_path / 'c'}", *args[:-1], "--seed=4", "--format=mp4")
    a, b, c = (_tree_bytes(tmp_path / n) for n in "abc")
    assert a == b
    mp4_files = sorted(k.replace(".mp4", ".avi") for k in c if k.endswith(".mp4"))
    assert sorted(k for k in a if k.endswith(".avi")) == mp4_files
    assert a["classInd.txt"] == b"1 right_slow\n2 left_slow\n3 down_slow\n4 up_slow\n"

    index = splits.read_ucf101(str(tmp_path / "a"), 1)
    assert index.failures == [] and len(index.entries) == 16
    assert sum(e.split == "test" for e in index.entries) == 4  # one group in four, per class
    folder = splits.read_folder(str(tmp_path / "c"))
    assert folder.class_names == sorted(index.class_names) and len(folder.entries) == 16
    frames = videos.opencv_frames(tmp_path / "c" / "up_slow" / "v_up_slow_g01_c01.mp4")
    assert frames.shape == (6, 32, 48, 3)


@pytest.mark.parametrize("camera_pan", [False, True])
def test_the_shape_moves_with_its_class_velocity(tmp_path, camera_pan):
    info = toy.make_toy_dataset(str(tmp_path), num_classes=8, videos_per_class=2, frames=8, size=(96, 72),
                                camera_pan=camera_pan, appearance_correlation=1.0)
    for relative, truth in info["videos"].items():
        name, (dx, dy), speeds = toy.TOY_CLASSES[truth.class_index]
        assert relative.startswith(name + "/")
        speed = np.hypot(*truth.velocity)
        assert speeds[0] <= speed <= speeds[1]
        assert np.allclose(np.array(truth.velocity) / speed, (dx, dy))
        assert (np.hypot(*truth.pan) > 0) == camera_pan
        # Follow the shape in the decoded file: coloured, or white, on a dark grey background.
        frames = videos.opencv_frames(tmp_path / relative).astype(int)
        centroids = []
        for frame in frames:
            ys, xs = np.nonzero((frame.max(axis=-1) - frame.min(axis=-1) > 60) | (frame.min(axis=-1) > 120))
            centroids.append((xs.mean(), ys.mean()))
        on_screen = (np.array(centroids[-1]) - centroids[0]) / (len(frames) - 1)
        np.testing.assert_allclose(on_screen, np.array(truth.velocity) - truth.pan, atol=0.35)


def test_appearance_agrees_with_the_class_only_partly():
    truths = toy.toy_videos(num_classes=6, videos_per_class=200, seed=0, camera_pan=False,
                            appearance_correlation=0.65, width=96)
    agree = np.mean([t.appearance == t.class_index for t in truths])
    assert 0.65 < agree < 0.77  # 0.65 + 0.35 / 6 expected
    with pytest.raises(ValueError, match="num_classes"):
        toy.make_toy_dataset("unused", num_classes=9)


def test_corrupt_option_lists_bad_files(tmp_path):
    info = toy.make_toy_dataset(str(tmp_path), num_classes=2, videos_per_class=2, frames=4, size=(32, 24),
                                corrupt=True)
    bad = [path for path, _ in info["train"] if "_g9" in path]
    assert len(bad) == 3
    sizes = [os.path.getsize(tmp_path / p) if os.path.exists(tmp_path / p) else None for p in bad]
    assert sizes[0] > 0 and sizes[1] == 0 and sizes[2] is None
    assert all(p in (tmp_path / "trainlist01.txt").read_text() for p in bad)


def test_sparse_evidence_ground_truth_is_one_span_among_shared_distractors():
    truths = toy.toy_videos(num_classes=6, videos_per_class=300, seed=0, camera_pan=False,
                            appearance_correlation=1.0, width=96, frames=18, evidence_spans=3, distractors=2)
    spans = [(0, 6), (6, 12), (12, 18)]
    for class_index in range(6):
        videos = [t for t in truths if t.class_index == class_index]
        chosen = np.array([spans.index(t.evidence) for t in videos])  # each evidence is one whole span
        np.testing.assert_allclose(np.bincount(chosen, minlength=3) / len(videos), 1 / 3, atol=0.08)
        shown = [d for t in videos for d in t.distractors]
        assert len(shown) == 2 * len(videos)
        # Never a class's own shape and colour together, and the same mix of shapes for every class.
        assert all(d.shape != d.colour for d in shown)
        np.testing.assert_allclose(np.bincount([d.shape for d in shown], minlength=8) / len(shown), 1 / 8,
                                   atol=0.05)
        speeds = np.array([np.hypot(*d.velocity) for d in shown])
        assert speeds.min() >= toy.DISTRACTOR_SPEEDS[0] and speeds.max() <= toy.DISTRACTOR_SPEEDS[1]
        assert all(0 in d.velocity for d in shown)  # right, left, down or up
    dense = toy.toy_videos(num_classes=6, videos_per_class=3, seed=0, camera_pan=False,
                           appearance_correlation=1.0, width=96)
    assert all(t.evidence is None and t.distractors == () for t in dense)
    with pytest.raises(ValueError, match="evidence_spans"):
        toy.make_toy_dataset("unused", frames=8, evidence_spans=9)


@pytest.mark.parametrize("span", [(0, 3), (3, 6), (6, 9)])
def test_the_class_shape_is_drawn_only_in_its_span_inside_the_centre(span):
    # The class's shape is red (appearance 0); the distractors are green and white.
    truth = toy.ToyVideo(class_index=0, appearance=0, velocity=(1.5, 0.0), pan=(0.0, 0.0), evidence=span,
                         distractors=(toy.Distractor(1, 2, (0.0, 1.0)), toy.Distractor(0, 6, (-2.0, 0.0))))
    frames = toy.render_toy_video(truth, 9, 72, 96, np.random.default_rng(5)).astype(int)  # BGR
    red = (frames[..., 2] > 200) & (frames[..., 0] < 130) & (frames[..., 1] < 130)  # [T, H, W]
    counts = red.sum(axis=(1, 2))
    inside = np.arange(9)[(np.arange(9) >= span[0]) & (np.arange(9) < span[1])]
    assert np.all(counts[inside] > 20), counts
    assert np.all(np.delete(counts, inside) == 0), counts
    for t in inside:
        xs = np.nonzero(red[t])[1]
        assert 12 <= xs.min() and xs.max() < 84  # the central 72x72 square: the test centre crop keeps it
    green = (frames[..., 1] > 200) & (frames[..., 0] < 130) & (frames[..., 2] < 130)
    assert np.all(green.sum(axis=(1, 2)) > 20)  # distractors in every frame


def test_sparse_videos_are_the_same_for_the_same_seed(tmp_path):
    kwargs = dict(num_classes=3, videos_per_class=3, frames=6, size=(48, 32), evidence_spans=3, distractors=2)
    a = toy.make_toy_dataset(str(tmp_path / "a"), seed=1, **kwargs)
    b = toy.make_toy_dataset(str(tmp_path / "b"), seed=1, **kwargs)
    c = toy.make_toy_dataset(str(tmp_path / "c"), seed=2, **kwargs)
    assert a["videos"] == b["videos"] and _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")
    evidence = json.loads((tmp_path / "a" / "evidence.json").read_text())
    assert evidence["frames"] == 6
    assert evidence["videos"] == {os.path.splitext(k)[0]: list(v.evidence) for k, v in a["videos"].items()}
    assert set(map(tuple, evidence["videos"].values())) <= {(0, 2), (2, 4), (4, 6)}
    assert a["videos"] != c["videos"]
    differing = [k for k, v in _tree_bytes(tmp_path / "a").items() if _tree_bytes(tmp_path / "c").get(k) != v]
    assert any(k.endswith(".avi") for k in differing)

"""Reading what a training run trained from its operative config."""

from iastp_tf.analysis.runs import find_records, find_runs


def _run(folder, lines, weights=True, scores=False):
    folder.mkdir(parents=True)
    (folder / "operative_config.gin").write_text("\n".join(lines) + "\n")
    if weights:
        (folder / "last.weights.h5").write_bytes(b"")
    if scores:
        (folder / "eval_test").mkdir()
        (folder / "eval_test" / "scores.npz").write_bytes(b"")
        (folder / "eval_test" / "operative_config.gin").write_text("")  # not a run: no weights


def test_find_runs_reads_the_stream_settings(tmp_path):
    _run(tmp_path / "rgb", ["build_stream_model.num_scales = 2", "train.data_dir = '/data/toy'"], scores=True)
    _run(tmp_path / "flat" / "flow", ["MODALITY = 'flow'", "build_stream_model.modality = %MODALITY",
                                      "build_stream_model.attention = \"none\"", "train.data_dir = %DATA"])
    _run(tmp_path / "unfinished", ["build_stream_model.num_scales = 1"], weights=False)
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "dataset.json").write_text("{}")

    rgb, flow = sorted(find_runs(str(tmp_path)), key=lambda run: run.modality, reverse=True)
    assert (rgb.modality, rgb.attention, rgb.num_scales, rgb.has_pyramid) == ("rgb", "pyramid", 2, True)
    assert rgb.data_dir == "/data/toy"
    assert rgb.scores == str(tmp_path / "rgb" / "eval_test" / "scores.npz")
    assert (flow.modality, flow.attention, flow.num_scales, flow.has_pyramid) == ("flow", "none", 3, False)
    assert flow.scores is None and flow.data_dir is None
    assert find_records(str(tmp_path)) == [str(tmp_path / "records")]

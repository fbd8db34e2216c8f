"""Reading what a training run trained from its run.json."""

import json

from iastp_tf.analysis.runs import find_records, find_runs


def _run(folder, model_fn="build_stream_model", weights=True, scores=False, **settings):
    folder.mkdir(parents=True)
    info = {"model_fn": model_fn, "modality": "rgb", "attention": "pyramid", "num_scales": 3, "data_dir": None}
    (folder / "run.json").write_text(json.dumps({**info, **settings}))
    if weights:
        (folder / "last.weights.h5").write_bytes(b"")
    if scores:
        (folder / "eval_test").mkdir()
        (folder / "eval_test" / "scores.npz").write_bytes(b"")
        (folder / "eval_test" / "operative_config.gin").write_text("")  # not a run: no run.json


def test_find_runs_reads_the_stream_settings(tmp_path):
    _run(tmp_path / "rgb", num_scales=2, data_dir="/data/toy", scores=True)
    _run(tmp_path / "flat" / "flow", modality="flow", attention="none")
    _run(tmp_path / "unfinished", num_scales=1, weights=False)
    _run(tmp_path / "fusion", model_fn="build_attention_fusion_model")  # not one stream
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "dataset.json").write_text("{}")

    rgb, flow = sorted(find_runs(str(tmp_path)), key=lambda run: run.modality, reverse=True)
    assert (rgb.modality, rgb.attention, rgb.num_scales, rgb.has_pyramid) == ("rgb", "pyramid", 2, True)
    assert rgb.data_dir == "/data/toy"
    assert rgb.scores == str(tmp_path / "rgb" / "eval_test" / "scores.npz")
    assert (flow.modality, flow.attention, flow.num_scales, flow.has_pyramid) == ("flow", "none", 3, False)
    assert flow.scores is None and flow.data_dir is None
    assert find_records(str(tmp_path)) == [str(tmp_path / "records")]

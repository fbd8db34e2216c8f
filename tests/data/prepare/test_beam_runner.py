"""The Beam runner (DirectRunner) against the local runner: the same output, byte for byte."""

import json

import pytest

from iastp_tf.data.prepare import runner, splits, toy
from tests.data.prepare import outputs

beam_runner = pytest.importorskip("iastp_tf.data.prepare.beam_runner", exc_type=ImportError)

OPTIONS = runner.PrepareOptions(resize=None, tvl1_scales=2, tvl1_warps=2, flow_compensation=True)


def _tree(directory):
    """Every file by relative path with its bytes; dataset.json parsed."""
    files = outputs.file_tree(directory)
    return files, json.loads(files.pop("dataset.json"))


@pytest.mark.slow
@pytest.mark.parametrize("beam_options", ["--runner=DirectRunner",
                                          "--direct_num_workers=2 --direct_running_mode=multi_processing"])
def test_direct_runner_output_equals_the_local_runners(tmp_path, beam_options):
    toy.make_toy_dataset(str(tmp_path / "toy"), num_classes=3, videos_per_class=3, frames=4, size=(32, 24),
                         corrupt=True)
    index = splits.read_ucf101(str(tmp_path / "toy"), 1)
    kwargs = dict(videos_dir=str(tmp_path / "toy"), options=OPTIONS, num_shards=2, progress=False,
                  output_format="both", command="the same command")
    runner.prepare_dataset(index, str(tmp_path / "local"), **kwargs)
    summary = runner.prepare_dataset(index, str(tmp_path / "beam"),
                                     runner=beam_runner.BeamRunner(beam_options), **kwargs)

    local_files, local_info = _tree(tmp_path / "local")
    beam_files, beam_info = _tree(tmp_path / "beam")
    assert sorted(beam_files) == sorted(local_files)  # shards, frame folders, failures.txt; no leftovers
    assert beam_files == local_files
    assert len(beam_files["failures.txt"].splitlines()) == 3 and summary.failures
    assert (local_info.pop("runner"), beam_info.pop("runner")) == ("local", "beam")
    assert beam_info == local_info


@pytest.mark.slow
def test_tvl1_tf_batched_with_batch_elements_equals_the_local_runner(tmp_path):
    toy.make_toy_dataset(str(tmp_path / "toy"), num_classes=2, videos_per_class=3, frames=5, size=(64, 48),
                         corrupt=True)
    index = splits.read_ucf101(str(tmp_path / "toy"), 1)
    options = runner.PrepareOptions(flow="tvl1_tf", resize=None, tvl1_scales=2, tvl1_warps=2)
    kwargs = dict(videos_dir=str(tmp_path / "toy"), options=options, num_shards=2, progress=False,
                  output_format="both", command="the same command")
    runner.prepare_dataset(index, str(tmp_path / "local"), flow_batch_size=4, **kwargs)
    # Batches of 3 pairs from BatchElements, whatever videos they come from; the last ones padded.
    runner.prepare_dataset(index, str(tmp_path / "beam"), runner=beam_runner.BeamRunner("--runner=DirectRunner", 3),
                           **kwargs)

    local_files, local_info = _tree(tmp_path / "local")
    beam_files, beam_info = _tree(tmp_path / "beam")
    assert sorted(beam_files) == sorted(local_files) and len(beam_files["failures.txt"].splitlines()) == 3
    assert beam_files == local_files
    assert (local_info.pop("runner"), beam_info.pop("runner")) == ("local", "beam")
    assert beam_info == local_info and beam_info["flow"]["method"] == "tvl1_tf"

"""Sweep grids without training: axes, cross product, point names, shards, and bad grids failing early."""

import os

import gin
import pytest

from iastp_tf.sweep import grid
from iastp_tf.sweep.run import plan_points
from tests.sweep import tiny

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tiny.write_base(tmp_path_factory.mktemp("base"))


@pytest.fixture(autouse=True)
def _clear_gin():
    yield
    gin.clear_config()


def test_cross_product_in_flag_order_last_axis_fastest():
    axes = grid.grid_axes(None, ["A=[1, 2]", "b.c=['x', 'y', 'z']"])
    points = grid.grid_points(axes)
    assert [p.bindings for p in points] == [
        (("A", a), ("b.c", c)) for a in ("1", "2") for c in ("'x'", "'y'", "'z'")
    ]
    assert points[0].name == "A=1,c=x" and grid.binding_lines(points[0].bindings) == ["A = 1", "b.c = 'x'"]


def test_tied_axis_binds_its_names_together():
    tied = "MODALITY, schedule.preset=[('rgb', 'spatial'), ('flow', 'temporal')]"
    points = grid.grid_points(grid.grid_axes(None, [tied]))
    assert [grid.binding_lines(p.bindings) for p in points] == [
        ["MODALITY = 'rgb'", "schedule.preset = 'spatial'"],
        ["MODALITY = 'flow'", "schedule.preset = 'temporal'"],
    ]
    assert [p.name for p in points] == ["MODALITY=rgb,preset=spatial", "MODALITY=flow,preset=temporal"]


def test_flag_replaces_the_file_axis_of_the_same_name():
    axes = grid.grid_axes({"A": [1, 2], "B": [3]}, ["A=[5]", "C=[%X, None]"])
    assert [(a.names, a.values) for a in axes] == [
        (("A",), (("5",),)), (("B",), (("3",),)), (("C",), (("%X",), ("None",))),
    ]


def test_point_names_are_safe_and_keep_ambiguous_values_apart():
    names = [p.name for p in grid.grid_points(grid.grid_axes(None, ["k.v=['a b', 'a_b', (1, 2), 1e-4]"]))]
    assert names[1] == "v=a_b" and names[3] == "v=0.0001"
    assert names[0].startswith("v=a_b-") and names[2].startswith("v=_1__2_-")  # lossy: a hash of the bindings
    assert len(set(names)) == 4 and all(os.path.basename(n) == n for n in names)
    assert names == [p.name for p in grid.grid_points(grid.grid_axes(None, ["k.v=['a b', 'a_b', (1, 2), 1e-4]"]))]


def test_same_parameter_in_two_scopes_gets_full_labels():
    points = grid.grid_points(grid.grid_axes(None, ["train/f.k=[1]", "eval/f.k=[2]"]))
    assert points[0].name == "train-f.k=1,eval-f.k=2"


@pytest.mark.parametrize("shard, expected", [("0/2", (0, 2)), ("1/3", (1, 3))])
def test_shard(shard, expected):
    assert grid.parse_shard(shard) == expected


@pytest.mark.parametrize("shard", ["2/2", "1", "a/b", "-1/2"])
def test_bad_shard(shard):
    with pytest.raises(ValueError, match="shard must be 'i/n'"):
        grid.parse_shard(shard)


@pytest.mark.parametrize(
    "sweeps, bindings, message",
    [
        (["NOPE=[1, 2]"], [], "unknown binding name 'NOPE'"),
        (["build_stream_model.nope=[1]"], [], "doesn't have a parameter named 'nope'"),
        (["nothing.here=[1]"], [], "No configurable matching 'nothing'"),
        (["NUM_SCALES=[]"], [], "list of values of 'NUM_SCALES' is empty"),
        ([], ["SWEEP_GRID = {'NUM_SCALES': []}"], "list of values of 'NUM_SCALES' is empty"),
        (["NUM_SCALES=[1, 2"], [], "gin cannot parse the values"),
        (["NUM_SCALES=[1, $]"], [], "gin cannot parse the values"),
        (["NUM_SCALES=2"], [], "must be a list"),
        (["NUM_SCALES"], [], "expected NAME="),
        (["NUM_SCALES=[1, 1]"], [], "occur more than once"),
        (["A, B=[(1, 2), (3,)]"], [], "must have 2 entries"),
        ([], [], "empty grid"),
    ],
)
def test_bad_grid_fails_before_anything_runs(base, tmp_path, sweeps, bindings, message):
    root = tmp_path / "sweep"
    with pytest.raises(ValueError, match=message) as error:
        plan_points([base], bindings, sweeps, str(root))
    assert "\n" not in str(error.value)  # one line
    assert not root.exists()


@pytest.mark.parametrize("sweep_file, count", [
    ("table2_scales.gin", 10), ("table3_fusion.gin", 3), ("table4_losses.gin", 8), ("fig4_train_frames.gin", 2),
])
def test_paper_sweep_files_plan_their_grids(sweep_file, count):
    planned = plan_points([os.path.join("gin", "sweeps", sweep_file)], root="runs", search_paths=[_REPO])
    assert len(planned) == count
    for run, summary in planned:
        assert summary == os.path.join("runs", run.name, "eval_test", "summary.json")

"""Every gin file under gin/ parses, builds its model and its train and test input.

Pretrained weights are switched off (``WEIGHTS = None``: no downloads in tests)
and the input comes from synthetic records (CIFAR-100 from
``tfds.testing.mock_data``). Models keep their real backbone and size; each
distinct backbone is built once and shared, which keeps the test fast.
"""

import contextlib
import glob
import os

import gin
import pytest
import tensorflow_datasets as tfds

import iastp_tf.configurables  # noqa: F401  registers what gin files name
from iastp_tf.backbones import build_backbone
from iastp_tf.data.prepare.synthetic import write_synthetic_dataset

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GIN_FILES = sorted(
    os.path.relpath(path, _REPO) for path in glob.glob(os.path.join(_REPO, "gin", "**", "*.gin"), recursive=True)
)
OVERRIDES = [
    "WEIGHTS = None",
    "build_stream_model.weights = None",
    "train.init_weights = None",
]
_BACKBONES = {}


def _shared_backbone(*args, **kwargs):
    key = repr((args, sorted(kwargs.items())))
    if key not in _BACKBONES:
        _BACKBONES[key] = build_backbone(*args, **kwargs)
    return _BACKBONES[key]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("records"))
    write_synthetic_dataset(data_dir, num_classes=3, videos_per_class=1, frames=10, size=32, with_flow_mc=True)
    return data_dir


@pytest.fixture(autouse=True)
def _shared_backbones(monkeypatch):
    monkeypatch.setattr("iastp_tf.models.stream.build_backbone", _shared_backbone)
    monkeypatch.setattr("iastp_tf.models.fusion.build_backbone", _shared_backbone)
    yield
    gin.clear_config()


def _channels(model):
    inputs = model.input if isinstance(model.input, dict) else {"frames": model.input}
    return {name: tensor.shape[-1] for name, tensor in inputs.items()}


def _frames_channels(frames):
    frames = frames if isinstance(frames, dict) else {"frames": frames}
    return {name: tensor.shape[-1] for name, tensor in frames.items()}


def test_there_is_a_gin_file_per_experiment_family():
    names = " ".join(GIN_FILES)
    for expected in ("gin/base.gin", "table2_", "table3_", "table4_", "table5_", "table6_", "table9_",
                     "table12_", "table14_", "table15_", "gin/demo/rgb.gin", "gin/demo/flow.gin"):
        assert expected in names, expected


@pytest.mark.slow
@pytest.mark.parametrize("gin_file", GIN_FILES)
def test_gin_file_builds_its_model_and_input(gin_file, records, tmp_path):
    gin.clear_config()
    gin.add_config_file_search_path(_REPO)
    gin.parse_config_files_and_bindings([os.path.join(_REPO, gin_file)], OVERRIDES)
    if gin_file == "gin/base.gin" or not _binds("train.model_fn"):
        assert gin.config_str()  # parsed; a file without a model (fusion, base) stops here
        return
    if gin.query_parameter("%NUM_CLASSES") is None:  # None: training takes dataset.json's count
        gin.parse_config("NUM_CLASSES = 3")
    model = gin.query_parameter("train.model_fn").scoped_configurable_fn()
    assert model.output_shape[-1] == gin.query_parameter("%NUM_CLASSES")
    dataset_fn = gin.query_parameter("train.dataset_fn").scoped_configurable_fn
    is_cifar = "cifar" in gin_file
    data_dir = str(tmp_path) if is_cifar else records
    with tfds.testing.mock_data(num_examples=4) if is_cifar else contextlib.nullcontext():
        with gin.config_scope("train"):
            frames, labels = next(iter(dataset_fn(data_dir=data_dir, split="train", batch_size=2, training=True, seed=0)))
        with gin.config_scope("eval"):
            test_frames, _, _ = next(iter(dataset_fn(data_dir=data_dir, split="test", batch_size=1, training=False)))
    assert _frames_channels(frames) == _channels(model)
    assert _frames_channels(test_frames) == _channels(model)
    assert labels.shape[0] == 2
    first = next(iter(frames.values())) if isinstance(frames, dict) else frames
    if first.shape[2] <= 64:  # small models (tiny, CIFAR-sized) also run the batch
        assert model(frames).shape == (2, model.output_shape[-1])


def _binds(selector):
    try:
        gin.query_parameter(selector)
    except ValueError:
        return False
    return True


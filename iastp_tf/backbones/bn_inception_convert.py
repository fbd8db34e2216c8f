"""Converts the PyTorch BN-Inception ImageNet checkpoint into Keras weights (SPEC §3).

:func:`convert_checkpoint` is what ``tools/convert_bn_inception.py`` runs::

    python tools/convert_bn_inception.py --checkpoint=bn_inception-9f5701afb96c8044.pth \
        --output=bn_inception.weights.h5

then ``build_stream_model("bn_inception", weights="bn_inception.weights.h5")``
(RGB or flow: a flow stream gets the cross-modality initialisation).

No torch needed. A PyTorch checkpoint (``torch.save``, torch >= 1.6) is a zip
holding ``<prefix>/data.pkl``, a pickle of the state dict in which every tensor
is ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` and
every storage a persistent id ``('storage', torch.FloatStorage, key, location,
numel)`` whose bytes are ``<prefix>/data/<key>`` (little-endian unless
``<prefix>/byteorder`` says otherwise). Older files (the legacy format, in
which the widely shared BN-Inception weights were saved) are a run of pickles
followed by the raw storages; both are read. The reader unpickles only those
names (plus ``collections.OrderedDict``), rebuilds the arrays with NumPy, maps
``<layer>.weight``/``.bias`` of convolutions (``[O, I, kh, kw]`` -> ``[kh, kw,
I, O]``) and ``<layer>.weight``/``.bias``/``.running_mean``/``.running_var`` of
batch norms onto the layers of the same names in
``iastp_tf.backbones.bn_inception``, and refuses a file whose names or shapes
do not match. The classifier (``last_linear`` in Cadene's pretrainedmodels,
``fc`` in TSN's ``bn_inception-9f5701afb96c8044.pth``) and
``num_batches_tracked`` are not part of the backbone and are skipped.

TSN's file stores every BN tensor as ``[1, C]`` (tsn-pytorch issue #74; TSN's
loaders squeeze dim 0), so a leading size-1 dimension of a BN tensor, and of
no other tensor, is dropped.
"""

import collections
import dataclasses
import pickle
import zipfile

import keras
import numpy as np

from iastp_tf.backbones import bn_inception

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_ENDIAN = {"little": "<", "big": ">"}
_SKIPPED_PREFIXES = ("last_linear.", "fc.")
_SKIPPED_SUFFIXES = (".num_batches_tracked",)
_BATCH_NORM_KEYS = ("weight", "bias", "running_mean", "running_var")


class _StorageType:
    """Stands for ``torch.<Name>Storage`` in the pickle."""

    def __init__(self, name):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


@dataclasses.dataclass(frozen=True)
class _StorageRef:
    """A persistent id: storage ``key`` of ``dtype``, or a view into it."""

    key: str
    dtype: np.dtype
    view_offset: int = 0
    view_size: int | None = None


@dataclasses.dataclass(frozen=True)
class _TensorRef:
    """A tensor waiting for its storage's bytes (legacy files put them after the pickle)."""

    storage: _StorageRef
    offset: int
    size: tuple
    stride: tuple

    def materialize(self, storages: dict) -> np.ndarray:
        """NumPy version of torch's ``_rebuild_tensor``: a strided view, copied."""
        base = storages[self.storage.key][self.storage.view_offset:]
        if self.storage.view_size is not None:
            base = base[: self.storage.view_size]
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=tuple(self.size),
            strides=tuple(step * base.itemsize for step in self.stride),
        )
        return np.array(view)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    """Stands for ``torch._utils._rebuild_tensor`` and ``_rebuild_tensor_v2``."""
    del unused  # requires_grad, backward hooks, metadata
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    del requires_grad, backward_hooks
    return data


class _CheckpointUnpickler(pickle.Unpickler):
    """Unpickles a state dict, allowing only the names a tensor checkpoint uses."""

    def __init__(self, file):
        super().__init__(file)
        self.storage_dtypes = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"),
                              ("torch._utils", "_rebuild_tensor")):
            return _rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"checkpoint refers to {module}.{name}, which a plain tensor state dict "
            "never does; refusing to load it"
        )

    def persistent_load(self, pid):
        # zip: ('storage', type, key, location, numel);
        # legacy: ('storage', type, key, location, numel, view or None).
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        self.storage_dtypes[key] = storage_type.dtype
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return _StorageRef(key, storage_type.dtype)
        _view_key, view_offset, view_size = view
        return _StorageRef(key, storage_type.dtype, view_offset, view_size)


def _read_zip(path: str):
    """``(state, storages)`` of a zip checkpoint (torch >= 1.6)."""
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path}: expected one <prefix>/data.pkl, found {pickles}")
        prefix = pickles[0][: -len("/data.pkl")]
        byteorder = "little"
        if f"{prefix}/byteorder" in archive.namelist():
            byteorder = archive.read(f"{prefix}/byteorder").decode().strip()
        with archive.open(pickles[0]) as file:
            unpickler = _CheckpointUnpickler(file)
            state = unpickler.load()
        storages = {}
        for key, dtype in unpickler.storage_dtypes.items():
            raw = archive.read(f"{prefix}/data/{key}")
            storages[key] = _native(np.frombuffer(raw, dtype.newbyteorder(_ENDIAN[byteorder])))
    return state, storages


def _read_legacy(path: str):
    """``(state, storages)`` of a pre-1.6 checkpoint: pickles, then raw storages.

    Layout: magic number, protocol version, system info, the state-dict pickle,
    the sorted list of storage keys, then per key an int64 element count and
    the storage's bytes.
    """
    with open(path, "rb") as file:
        try:
            magic = _CheckpointUnpickler(file).load()
        except (pickle.UnpicklingError, EOFError, ValueError):
            magic = None
        if magic != _LEGACY_MAGIC:
            raise ValueError(f"{path} is neither a zip nor a legacy PyTorch checkpoint")
        version = _CheckpointUnpickler(file).load()
        if version != _LEGACY_PROTOCOL:
            raise ValueError(f"{path}: unsupported legacy protocol version {version}")
        system = _CheckpointUnpickler(file).load()
        endian = _ENDIAN["little" if system.get("little_endian", True) else "big"]
        unpickler = _CheckpointUnpickler(file)
        state = unpickler.load()
        keys = _CheckpointUnpickler(file).load()
        storages = {}
        for key in keys:
            count = int(np.frombuffer(file.read(8), np.dtype("i8").newbyteorder(endian))[0])
            dtype = unpickler.storage_dtypes[str(key)].newbyteorder(endian)
            storages[str(key)] = _native(np.frombuffer(file.read(count * dtype.itemsize), dtype))
    return state, storages


def _native(array: np.ndarray) -> np.ndarray:
    return array.astype(array.dtype.newbyteorder("="))


def read_torch_checkpoint(path: str) -> dict:
    """Reads a PyTorch checkpoint into ``{name: np.ndarray}`` without torch.

    Both the zip format (torch >= 1.6) and the legacy one (older files, such as
    the widely shared BN-Inception ImageNet weights) are read. A top-level
    ``{"state_dict": ...}`` wrapper and a ``module.`` prefix (``DataParallel``)
    are removed.

    Raises:
      ValueError: the file is not a PyTorch checkpoint or holds something
        other than tensors.
      pickle.UnpicklingError: the pickle refers to anything but tensors.
    """
    if zipfile.is_zipfile(path):
        state, storages = _read_zip(path)
    else:
        state, storages = _read_legacy(path)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(state).__name__}")
    tensors = {}
    for name, value in state.items():
        if not isinstance(value, _TensorRef):
            raise ValueError(f"{path}: entry {name!r} is not a tensor")
        tensors[name.removeprefix("module.")] = value.materialize(storages)
    return tensors


def _squeeze_leading_one(tensor: np.ndarray) -> np.ndarray:
    """``[1, C]`` -> ``[C]`` (TSN's BN tensors); any other shape unchanged."""
    return tensor[0] if tensor.ndim == 2 and tensor.shape[0] == 1 else tensor


def _expected_tensors(network: keras.Model) -> dict:
    """``{checkpoint name: (layer, index into layer.weights, torch-to-Keras transform)}``."""
    expected = {}
    for layer in network.layers:
        if isinstance(layer, keras.layers.Conv2D):
            expected[f"{layer.name}.weight"] = (layer, 0, lambda w: w.transpose(2, 3, 1, 0))
            expected[f"{layer.name}.bias"] = (layer, 1, lambda w: w)
        elif isinstance(layer, keras.layers.BatchNormalization):
            for index, key in enumerate(_BATCH_NORM_KEYS):
                expected[f"{layer.name}.{key}"] = (layer, index, _squeeze_leading_one)
        elif layer.weights:
            raise ValueError(f"no checkpoint mapping for layer {layer.name!r}")
    return expected


def map_state_dict(tensors: dict, network: keras.Model) -> None:
    """Sets ``network``'s weights from a BN-Inception state dict, name for name.

    BN tensors may be ``[C]`` or, as in TSN's file, ``[1, C]``.

    Raises:
      ValueError: listing every missing name, unexpected name and shape mismatch.
    """
    expected = _expected_tensors(network)
    relevant = {n: v for n, v in tensors.items()
                if not n.startswith(_SKIPPED_PREFIXES) and not n.endswith(_SKIPPED_SUFFIXES)}
    problems = [f"unexpected: {n}" for n in relevant if n not in expected]
    values = {}
    for name, (layer, index, transform) in expected.items():
        if name not in relevant:
            continue
        value = transform(relevant[name])
        shape = tuple(layer.weights[index].shape)
        if value.shape != shape:
            problems.append(f"shape of {name}: checkpoint {relevant[name].shape} gives "
                            f"{value.shape}, the layer needs {shape}")
        values[name] = value
    problems += [f"missing: {n}" for n in expected if n not in relevant]
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ValueError(f"the checkpoint does not match BN-Inception:\n  {shown}{more}")
    for name, (layer, index, _) in expected.items():
        layer.weights[index].assign(values[name].astype(np.float32))


def convert_checkpoint(checkpoint: str, output: str) -> int:
    """Converts ``checkpoint`` (PyTorch, zip or legacy) into Keras weights at ``output``.

    Args:
      checkpoint: path of the PyTorch BN-Inception ImageNet state dict.
      output: path of the Keras weights file; must end in ``.weights.h5``.

    Returns:
      The number of tensors written.

    Raises:
      ValueError: naming ``checkpoint`` and what in it does not fit.
    """
    if not output.endswith(".weights.h5"):
        raise ValueError(f"output must end in '.weights.h5', got {output!r}")
    network, _ = bn_inception.build_features(channels=3)
    try:
        map_state_dict(read_torch_checkpoint(checkpoint), network)
    except ValueError as error:
        raise ValueError(f"{checkpoint}: {error}") from error
    network.save_weights(output)
    return len(network.weights)

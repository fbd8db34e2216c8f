"""Round trip through the BN-Inception converter with checkpoints written byte by byte.

The zip checkpoint follows PyTorch's serialisation (torch >= 1.6):
``archive/data.pkl`` is a protocol-2 pickle of an ``OrderedDict`` whose tensors
are ``torch._utils._rebuild_tensor_v2((storage pid), offset, size, stride,
False, OrderedDict())`` and whose storages are persistent ids ``('storage',
torch.FloatStorage, key, 'cpu', numel)`` with raw little-endian bytes in
``archive/data/<key>``. The legacy file (older torch) is the pickles of the
magic number 0x1950a86a20f9469cfc6c, protocol 1001 and a system-info dict, the
same state-dict pickle with 6-tuple ids (the last item a view, None), the
pickled list of storage keys, then per key an int64 element count and the
bytes. The pickle opcodes are written here by hand, so neither torch nor the
converter's reader produce the files under test. TSN's
``bn_inception-9f5701afb96c8044.pth`` layout (BN tensors ``[1, C]``, classifier
``fc``, no ``num_batches_tracked``) is written the same way.
"""

import struct
import zipfile

import keras
import numpy as np
import pytest

from iastp_tf.backbones import bn_inception
from iastp_tf.backbones import bn_inception_convert as convert_bn_inception


class _PickleWriter:
    """Emits the handful of protocol-2 opcodes a torch state dict uses."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")  # PROTO 2

    def global_(self, module, name):
        self.out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"  # GLOBAL

    def string(self, text):
        data = text.encode()
        self.out += b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE

    def integer(self, value):
        self.out += b"J" + struct.pack("<i", value)  # BININT

    def long(self, value):
        data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
        self.out += b"\x8a" + bytes([len(data)]) + data  # LONG1

    def stop(self):
        self.out += b"."  # STOP

    def int_tuple(self, values):
        self.out += b"("  # MARK
        for value in values:
            self.integer(value)
        self.out += b"t"  # TUPLE

    def empty_ordered_dict(self):
        self.global_("collections", "OrderedDict")
        self.out += b")R"  # EMPTY_TUPLE, REDUCE

    def tensor(self, storage_type, key, numel, offset, shape, stride, legacy=False):
        self.global_("torch._utils", "_rebuild_tensor_v2")
        self.out += b"("  # MARK: the call's arguments
        self.out += b"("  # MARK: the persistent id
        self.string("storage")
        self.global_("torch", storage_type)
        self.string(key)
        self.string("cpu")
        self.integer(numel)
        if legacy:
            self.out += b"N"  # NONE: no view
        self.out += b"tQ"  # TUPLE, BINPERSID
        self.integer(offset)
        self.int_tuple(shape)
        self.int_tuple(stride)
        self.out += b"\x89"  # NEWFALSE: requires_grad
        self.empty_ordered_dict()  # backward hooks
        self.out += b"tR"  # TUPLE, REDUCE


def _contiguous_stride(shape):
    stride, step = [], 1
    for size in reversed(shape):
        stride.insert(0, step)
        step *= size
    return stride


def _state_dict_pickle(tensors, shared, legacy):
    """``(pickle bytes, {storage key: little-endian array})`` for ``tensors``."""
    writer = _PickleWriter()
    writer.empty_ordered_dict()
    storages = {}
    placed = {}
    for group in shared:
        key, offset = str(len(storages)), 0
        storages[key] = np.concatenate([tensors[name] for name in group]).astype("<f4")
        for name in group:
            placed[name] = (key, offset)
            offset += tensors[name].size
    writer.out += b"("  # MARK for SETITEMS
    for name, array in tensors.items():
        if name not in placed:
            key = str(len(storages))
            storages[key] = array.astype(array.dtype.newbyteorder("<")).ravel()
            placed[name] = (key, 0)
        key, offset = placed[name]
        storage_type = "LongStorage" if array.dtype == np.int64 else "FloatStorage"
        writer.string(name)
        writer.tensor(storage_type, key, storages[key].size, offset, array.shape,
                      _contiguous_stride(array.shape), legacy=legacy)
    writer.out += b"u"  # SETITEMS
    writer.stop()
    return bytes(writer.out), storages


def write_checkpoint(path, tensors, shared=()):
    """Writes ``{name: array}`` as a PyTorch zip checkpoint.

    ``shared`` lists groups of 1-D float32 names stored one after another in a
    single storage (offsets exercised); every other tensor gets its own storage.
    """
    data_pkl, storages = _state_dict_pickle(tensors, shared, legacy=False)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        for key, data in storages.items():
            archive.writestr(f"archive/data/{key}", data.tobytes())
        archive.writestr("archive/version", "3\n")


def write_legacy_checkpoint(path, tensors, shared=()):
    """Writes ``{name: array}`` in PyTorch's legacy (pre-1.6) format."""
    header = _PickleWriter()
    header.long(0x1950A86A20F9469CFC6C)  # magic number
    header.stop()
    header.out += b"\x80\x02"
    header.integer(1001)  # protocol version
    header.stop()
    header.out += b"\x80\x02}("  # system info: EMPTY_DICT, MARK
    header.string("protocol_version")
    header.integer(1001)
    header.string("little_endian")
    header.out += b"\x88"  # NEWTRUE
    header.out += b"u"  # SETITEMS
    header.stop()
    state, storages = _state_dict_pickle(tensors, shared, legacy=True)
    keys = _PickleWriter()
    keys.out += b"]("  # EMPTY_LIST, MARK
    for key in sorted(storages):
        keys.string(key)
    keys.out += b"e"  # APPENDS
    keys.stop()
    with open(path, "wb") as f:
        f.write(bytes(header.out) + state + bytes(keys.out))
        for key in sorted(storages):
            f.write(struct.pack("<q", storages[key].size) + storages[key].tobytes())


def _torch_state_dict(network, rng, tsn=False):
    """Known arrays in torch layout for every weight of ``network``.

    ``tsn``: TSN's file layout: BN tensors ``[1, C]``, the classifier named
    ``fc``, no ``num_batches_tracked``.
    """
    tensors = {}
    for layer in network.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            tensors[f"{layer.name}.weight"] = rng.normal(size=(cout, cin, kh, kw)).astype(np.float32)
            tensors[f"{layer.name}.bias"] = rng.normal(size=(cout,)).astype(np.float32)
        elif isinstance(layer, keras.layers.BatchNormalization):
            shape = (1, *layer.gamma.shape) if tsn else layer.gamma.shape
            for key in ("weight", "bias", "running_mean", "running_var"):
                tensors[f"{layer.name}.{key}"] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
            if not tsn:
                tensors[f"{layer.name}.num_batches_tracked"] = np.array(7, dtype=np.int64)
    classifier = "fc" if tsn else "last_linear"
    tensors[f"{classifier}.weight"] = rng.normal(size=(1000, 1024)).astype(np.float32)
    tensors[f"{classifier}.bias"] = np.zeros(1000, np.float32)
    return tensors


def _assert_weights_equal(network, tensors):
    """Every weight of ``network`` equals its torch tensor (conv kernels transposed, BN [1, C] squeezed)."""
    compared = 0
    for layer in network.layers:
        if isinstance(layer, keras.layers.Conv2D):
            np.testing.assert_array_equal(layer.kernel.numpy(),
                                          tensors[f"{layer.name}.weight"].transpose(2, 3, 1, 0))
            np.testing.assert_array_equal(layer.bias.numpy(), tensors[f"{layer.name}.bias"])
            compared += 2
        elif isinstance(layer, keras.layers.BatchNormalization):
            for weight, key in zip(layer.weights, ("weight", "bias", "running_mean", "running_var")):
                np.testing.assert_array_equal(weight.numpy(), tensors[f"{layer.name}.{key}"].reshape(-1))
                compared += 1
    assert compared == len(network.weights) == 4 * 69 + 2 * 69  # 69 conv + BN pairs


@pytest.mark.slow
@pytest.mark.parametrize("writer,tsn", [(write_checkpoint, False), (write_legacy_checkpoint, False),
                                        (write_legacy_checkpoint, True)])
def test_round_trip_every_weight(writer, tsn, tmp_path):
    network, _ = bn_inception.build_features(input_size=64)
    tensors = _torch_state_dict(network, np.random.default_rng(0), tsn=tsn)
    statistics = [] if tsn else [(f"{n}.running_mean", f"{n}.running_var")
                                 for n in ("conv1_7x7_s2_bn", "inception_5b_pool_proj_bn")]
    checkpoint = tmp_path / "bn_inception.pth"
    writer(checkpoint, tensors, shared=statistics)

    output = tmp_path / "bn_inception.weights.h5"
    convert_bn_inception.convert_checkpoint(str(checkpoint), str(output))
    loaded, _ = bn_inception.build_features(input_size=64)
    loaded.load_weights(output)
    _assert_weights_equal(loaded, tensors)


def test_tsn_layout_maps_with_bn_tensors_squeezed(tmp_path):
    """TSN's file: BN tensors [1, C] and an `fc` classifier are accepted; [2, C] is still refused."""
    network, _ = bn_inception.build_features(input_size=64)
    tensors = _torch_state_dict(network, np.random.default_rng(2), tsn=True)
    convert_bn_inception.map_state_dict(tensors, network)
    _assert_weights_equal(network, tensors)

    tensors["conv1_7x7_s2_bn.running_var"] = np.ones((2, 64), np.float32)
    tensors["conv1_7x7_s2.bias"] = np.ones((1, 64), np.float32)  # only BN tensors lose a leading 1
    with pytest.raises(ValueError) as error:
        convert_bn_inception.map_state_dict(tensors, network)
    assert "shape of conv1_7x7_s2_bn.running_var: checkpoint (2, 64)" in str(error.value)
    assert "shape of conv1_7x7_s2.bias: checkpoint (1, 64)" in str(error.value)


def test_a_mismatch_names_the_checkpoint_file(tmp_path):
    path = tmp_path / "other_network.pth"
    write_checkpoint(path, {"conv1.weight": np.zeros((4, 3, 3, 3), np.float32)})
    with pytest.raises(ValueError, match=f"{path}: the checkpoint does not match BN-Inception"):
        convert_bn_inception.convert_checkpoint(str(path), str(tmp_path / "out.weights.h5"))


@pytest.mark.parametrize("writer", [write_checkpoint, write_legacy_checkpoint])
def test_reader_handles_offsets_strides_and_scalars(writer, tmp_path):
    tensors = {
        "a": np.arange(6, dtype=np.float32),
        "b": np.arange(4, dtype=np.float32) + 10,
        "w": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        "n": np.array(5, dtype=np.int64),
    }
    path = tmp_path / "small.pth"
    writer(path, tensors, shared=[("a", "b")])
    read = convert_bn_inception.read_torch_checkpoint(str(path))
    assert list(read) == ["a", "b", "w", "n"]
    for name, array in tensors.items():
        np.testing.assert_array_equal(read[name], array)
        assert read[name].dtype == array.dtype


def test_refuses_wrong_names_and_shapes(tmp_path):
    network, _ = bn_inception.build_features(input_size=64)
    rng = np.random.default_rng(1)
    path = tmp_path / "bad.pth"
    write_checkpoint(path, {
        "conv1_7x7_s2.weight": rng.normal(size=(64, 3, 5, 5)).astype(np.float32),
        "conv1_7x7.bias": np.zeros(64, np.float32),
    })
    with pytest.raises(ValueError) as error:
        convert_bn_inception.map_state_dict(
            convert_bn_inception.read_torch_checkpoint(str(path)), network)
    message = str(error.value)
    assert "unexpected: conv1_7x7.bias" in message
    assert "missing: conv1_7x7_s2.bias" in message
    assert "shape of conv1_7x7_s2.weight" in message and "(7, 7, 3, 64)" in message


def test_refuses_pickles_that_are_not_state_dicts(tmp_path):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.")
    with pytest.raises(Exception, match="os.system"):
        convert_bn_inception.read_torch_checkpoint(str(path))
    legacy = tmp_path / "not_a_checkpoint.pth"
    legacy.write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(ValueError, match="neither a zip nor a legacy"):
        convert_bn_inception.read_torch_checkpoint(str(legacy))

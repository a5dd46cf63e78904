"""Reading (and, for tests, writing) a Caffe `.caffemodel` without Caffe.

A .caffemodel is a protocol buffer `NetParameter` (BVLC/caffe src/caffe/proto/
caffe.proto). Only the fields that hold weights are decoded here, from the
wire format with numpy alone:

    NetParameter      { layer = 100 (LayerParameter), layers = 2 (V1LayerParameter) }
    LayerParameter    { name = 1 (string), type = 2 (string), blobs = 7 (BlobProto) }
    V1LayerParameter  { name = 4 (string), type = 5 (enum), blobs = 6 (BlobProto) }
    BlobProto         { num = 1, channels = 2, height = 3, width = 4 (legacy int32 dims),
                        data = 5 (repeated float, packed or not),
                        double_data = 8 (repeated double), shape = 7 (BlobShape) }
    BlobShape         { dim = 1 (repeated int64, packed or not) }

`read_caffemodel(path)` gives `{f"{layer}.weight": blob 0, f"{layer}.bias": blob 1}`
(further blobs as `f"{layer}.blob{i}"`): a convolution's weight shaped
(out, in / group, kh, kw), an inner product's (out, in), so the arrays map
like a PyTorch state dict's. Old files (V1 layers, legacy 4-D dims) store an
inner product's weight as (1, 1, out, in) and biases as (1, 1, 1, out): those
are reduced to (out, in) and (out,).
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["read_caffemodel", "parse_caffemodel", "write_caffemodel", "V1_TYPES"]

# V1LayerParameter.LayerType values of the layers with weights (caffe.proto).
V1_TYPES = {"Convolution": 4, "InnerProduct": 14, "Deconvolution": 39}
_V1_NAMES = {value: key for key, value in V1_TYPES.items()}
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


def _varint(buffer, position):
    result = shift = 0
    while True:
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7


def _fields(buffer):
    """(field number, wire type, value) of a message: int, or a memoryview for the others."""
    position, end = 0, len(buffer)
    while position < end:
        key, position = _varint(buffer, position)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, position = _varint(buffer, position)
        elif wire == _BYTES:
            size, position = _varint(buffer, position)
            value, position = buffer[position:position + size], position + size
        elif wire in (_FIXED32, _FIXED64):
            size = 4 if wire == _FIXED32 else 8
            value, position = buffer[position:position + size], position + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} (field {number})")
        yield number, wire, value


def _packed_varints(buffer):
    values, position = [], 0
    while position < len(buffer):
        value, position = _varint(buffer, position)
        values.append(value)
    return values


def _blob(buffer):
    legacy, dims, chunks = {}, None, []
    for number, wire, value in _fields(buffer):
        if number in (1, 2, 3, 4) and wire == _VARINT:
            legacy[number] = value
        elif number == 5:  # float data: one packed run or single fixed32 values
            chunks.append(np.frombuffer(value, "<f4"))
        elif number == 8:
            chunks.append(np.frombuffer(value, "<f8").astype("float32"))
        elif number == 7:
            dims = dims or []
            for dim_number, dim_wire, dim in _fields(value):
                if dim_number == 1:
                    dims.extend(_packed_varints(dim) if dim_wire == _BYTES else [dim])
    data = np.concatenate(chunks) if chunks else np.zeros(0, "float32")
    if dims is None:
        dims = [legacy.get(number, 1) for number in (1, 2, 3, 4)]
        legacy_dims = True
    else:
        legacy_dims = False
    if int(np.prod(dims)) != data.size:
        raise ValueError(f"a blob of shape {tuple(dims)} holds {data.size} values")
    return data.reshape(dims), legacy_dims


def parse_caffemodel(data) -> list[tuple[str, str, list[np.ndarray]]]:
    """The (name, type, blobs) of each layer with weights in the NetParameter bytes `data`."""
    result = []
    for number, wire, value in _fields(memoryview(data)):
        if wire != _BYTES or number not in (2, 100):
            continue
        v1 = number == 2
        name_field, type_field, blob_field = (4, 5, 6) if v1 else (1, 2, 7)
        name, kind, blobs = "", "", []
        for field, _, item in _fields(value):
            if field == name_field:
                name = bytes(item).decode("utf-8")
            elif field == type_field:
                kind = _V1_NAMES.get(item, str(item)) if v1 else bytes(item).decode("utf-8")
            elif field == blob_field:
                blobs.append(_blob(item))
        if blobs:
            result.append((name, kind, [_standard_shape(array, legacy, kind, index)
                                        for index, (array, legacy) in enumerate(blobs)]))
    return result


def _standard_shape(array, legacy, kind, index):
    if index == 1 and kind in V1_TYPES:
        return array.reshape(-1)  # a bias
    if legacy and kind == "InnerProduct" and array.shape[:2] == (1, 1):
        return array.reshape(array.shape[2:])
    return array


def read_caffemodel(path) -> dict[str, np.ndarray]:
    """The weights in the .caffemodel at `path` as {"<layer>.weight": ..., "<layer>.bias": ...}."""
    with open(os.fspath(path), "rb") as file:
        data = file.read()
    try:
        layers = parse_caffemodel(data)
    except (IndexError, ValueError) as err:
        raise ValueError(f"{os.fspath(path)!r} is not a readable .caffemodel ({err})") from err
    state = {}
    for name, _, blobs in layers:
        for index, blob in enumerate(blobs):
            suffix = {0: "weight", 1: "bias"}.get(index, f"blob{index}")
            state[f"{name}.{suffix}"] = blob
    return state


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number, wire):
    return _encode_varint(number << 3 | wire)


def _bytes_field(number, payload):
    return _key(number, _BYTES) + _encode_varint(len(payload)) + payload


def _encode_blob(array, v1, kind, index):
    array = np.ascontiguousarray(array, "<f4")
    out = b""
    if v1:  # legacy 4-D dims, as old Caffe wrote them
        dims = list(array.shape)
        if kind == "InnerProduct" and index == 0:
            dims = [1, 1, *dims]
        elif index == 1:
            dims = [1, 1, 1, array.size]
        dims = [1] * (4 - len(dims)) + dims
        for number, dim in zip((1, 2, 3, 4), dims):
            out += _key(number, _VARINT) + _encode_varint(dim)
    else:
        shape = b"".join(_encode_varint(dim) for dim in array.shape)
        out += _bytes_field(7, _bytes_field(1, shape))
    return out + _bytes_field(5, array.tobytes())


def write_caffemodel(path, layers, v1=False) -> None:
    """Writes `layers` [(name, type, [weight, bias, ...]), ...] as a .caffemodel.

    `v1=True` writes V1LayerParameter layers (field 2, enum types, legacy
    4-D blob dims) as Caffe did before 2015; otherwise LayerParameter
    (field 100, string types, BlobShape). For tests: the reader's inverse.
    """
    out = b""
    for name, kind, blobs in layers:
        if v1:
            layer = _bytes_field(4, name.encode()) + _key(5, _VARINT) + \
                _encode_varint(V1_TYPES[kind])
            layer += b"".join(_bytes_field(6, _encode_blob(blob, v1, kind, index))
                              for index, blob in enumerate(blobs))
            out += _bytes_field(2, layer)
        else:
            layer = _bytes_field(1, name.encode()) + _bytes_field(2, kind.encode())
            layer += b"".join(_bytes_field(7, _encode_blob(blob, v1, kind, index))
                              for index, blob in enumerate(blobs))
            out += _bytes_field(100, layer)
    with open(os.fspath(path), "wb") as file:
        file.write(_bytes_field(1, b"test_net") + out)

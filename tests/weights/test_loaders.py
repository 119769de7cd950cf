"""Decrypt-on-read of a safetensors file: tensors come out byte-exact, without a plaintext file."""

from __future__ import annotations

import json
import struct
import sys
from array import array
from pathlib import Path

import pytest

from leakline.weights.container import EncryptedWeightsReader
from leakline.weights.loaders import SafetensorsFormatError, iter_tensor_bytes, safetensors_index
from tests.weights.helpers import kat_key, seal

DTYPES = {"f": "F32", "q": "I64"}


def little_endian(values: array) -> bytes:  # type: ignore[type-arg]
    copy = array(values.typecode, values)
    if sys.byteorder == "big":
        copy.byteswap()
    return copy.tobytes()


def safetensors_bytes(tensors: dict[str, tuple[array, tuple[int, ...]]], metadata: dict[str, str]) -> bytes:  # type: ignore[type-arg]
    header: dict[str, object] = {"__metadata__": metadata}
    data = b""
    for name, (values, shape) in tensors.items():
        raw = little_endian(values)
        header[name] = {"dtype": DTYPES[values.typecode], "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data


def test_tensors_read_back_exactly(tmp_path: Path) -> None:
    tensors = {
        "embed.weight": (array("f", [i / 7 for i in range(600)]), (20, 30)),
        "layers.0.bias": (array("q", [i - 25 for i in range(50)]), (50,)),
        "lm_head.weight": (array("f", [-1 + 2 * i / 998 for i in range(999)]), (999,)),
    }
    blob, _ = seal(safetensors_bytes(tensors, {"format": "pt"}), segment_size=256)
    path = tmp_path / "model.safetensors.llw"
    path.write_bytes(blob)
    with EncryptedWeightsReader(path, kat_key()) as reader:
        index = safetensors_index(reader)
        assert index.metadata == {"format": "pt"}
        assert index.tensors["embed.weight"].shape == (20, 30)
        assert index.tensors["layers.0.bias"].dtype == "I64"
        got = {span.name: raw for span, raw in iter_tensor_bytes(reader, index)}
    assert list(got) == ["embed.weight", "layers.0.bias", "lm_head.weight"]
    for name, (values, _shape) in tensors.items():
        assert got[name] == little_endian(values)


def test_offsets_outside_the_data_are_refused(tmp_path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 400]}}).encode()
    blob, _ = seal(struct.pack("<Q", len(header)) + header + bytes(16), segment_size=64)
    path = tmp_path / "bad.llw"
    path.write_bytes(blob)
    with EncryptedWeightsReader(path, kat_key()) as reader, pytest.raises(SafetensorsFormatError) as caught:
        safetensors_index(reader)
    assert "w.data_offsets: [0, 400] is not a range within the 16 data bytes" in caught.value.message

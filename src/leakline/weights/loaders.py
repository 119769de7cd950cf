"""Decrypt-on-read for safetensors: find and read single tensors inside an encrypted container.

A safetensors file is ``u64 little-endian header length N ‖ N bytes of JSON ‖ tensor data``; the JSON maps
each tensor name to its dtype, shape and ``data_offsets`` (relative to the end of the header). With
`EncryptedWeightsReader` this module reads the header and then exactly the segments that hold one tensor,
so a loader can build tensors one at a time (``numpy.frombuffer`` / ``torch.frombuffer``) without the
plaintext ever touching disk and with memory bounded by the largest tensor. It does not import numpy,
torch or the safetensors package.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from leakline.weights.container import EncryptedWeightsReader
from leakline.weights.errors import FormatError

SAFETENSORS_LENGTH_SIZE = 8
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
"""The safetensors reference implementation refuses larger headers too."""
METADATA_KEY = "__metadata__"


class SafetensorsFormatError(FormatError):
    """The decrypted plaintext is not a well-formed safetensors file; the message names the field."""


@dataclass(frozen=True)
class TensorSpan:
    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    """Absolute plaintext offset of the tensor's first byte."""
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class SafetensorsIndex:
    tensors: dict[str, TensorSpan]
    metadata: dict[str, str]


def _int_list(value: object, *, name: str, field: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise SafetensorsFormatError(f"safetensors header: {name}.{field}: expected a list of non-negative integers")
    return list(value)


def safetensors_index(reader: EncryptedWeightsReader) -> SafetensorsIndex:
    """Parse the safetensors header from the (authenticated) plaintext."""
    prefix = reader.read_range(0, SAFETENSORS_LENGTH_SIZE)
    if len(prefix) != SAFETENSORS_LENGTH_SIZE:
        raise SafetensorsFormatError("safetensors header: the plaintext is shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", prefix)
    if length > min(MAX_SAFETENSORS_HEADER, reader.size - SAFETENSORS_LENGTH_SIZE):
        raise SafetensorsFormatError(f"safetensors header: length {length} at byte 0 exceeds the file")
    raw = reader.read_range(SAFETENSORS_LENGTH_SIZE, length)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SafetensorsFormatError(f"safetensors header: not UTF-8 at byte {8 + exc.start}") from None
    except json.JSONDecodeError as exc:
        raise SafetensorsFormatError(f"safetensors header: not JSON at byte {8 + exc.pos}: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise SafetensorsFormatError("safetensors header: expected a JSON object")
    data_start = SAFETENSORS_LENGTH_SIZE + length
    data_size = reader.size - data_start
    metadata = doc.pop(METADATA_KEY, {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsFormatError(f"safetensors header: {METADATA_KEY}: expected an object of strings")
    tensors: dict[str, TensorSpan] = {}
    for name, entry in doc.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("dtype"), str):
            raise SafetensorsFormatError(f"safetensors header: {name}.dtype: expected a string")
        shape = _int_list(entry.get("shape"), name=name, field="shape")
        offsets = _int_list(entry.get("data_offsets"), name=name, field="data_offsets")
        if len(offsets) != 2 or not offsets[0] <= offsets[1] <= data_size:
            raise SafetensorsFormatError(
                f"safetensors header: {name}.data_offsets: {offsets} is not a range within the {data_size} data bytes"
            )
        tensors[name] = TensorSpan(
            name, entry["dtype"], tuple(shape), data_start + offsets[0], data_start + offsets[1]
        )
    return SafetensorsIndex(tensors=tensors, metadata=dict(metadata))


def iter_tensor_bytes(
    reader: EncryptedWeightsReader, index: SafetensorsIndex | None = None
) -> Iterator[tuple[TensorSpan, bytes]]:
    """Each tensor's raw little-endian bytes, in file order, decrypting only the segments it spans."""
    index = index or safetensors_index(reader)
    for span in sorted(index.tensors.values(), key=lambda s: s.start):
        yield span, reader.read_range(span.start, span.size)

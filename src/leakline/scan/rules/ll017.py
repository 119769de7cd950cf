"""LL017: model weights published under `public/` or `.next/static/` (anyone can download them).

Files are recognised by extension and confirmed by their leading bytes, never by the extension alone:
GGUF and the legacy GGML family have magics; safetensors starts with a little-endian u64 header length
followed by a JSON object; PyTorch checkpoints are zip archives whose entries are `<name>/data.pkl`
and `<name>/data/<n>` (or, before torch 1.6, a pickle that starts with torch's magic number); ONNX
has no magic, so its first protobuf fields must parse as a `ModelProto` that starts with
`ir_version`. `.bin` files are reported only when one of those formats is recognised. Only the first
bytes of a file are read (weights are often gigabytes), plus one byte at the end of a safetensors
header.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import BinaryIO, NamedTuple

from leakline.findings import Confidence
from leakline.scan.context import ScanContext
from leakline.scan.rules.base import Hit, Rule

PUBLIC_PREFIXES = ("public/", ".next/static/")
HEAD_BYTES = 4096
"""How much of a candidate file is read; every check below needs at most this."""

GGUF_MAGIC = b"GGUF"
GGUF_MAX_VERSION = 16
"""GGUF versions 1-3 exist; a little headroom for future ones, but not arbitrary integers."""
# Legacy GGML containers store their magic as a little-endian uint32, so 'ggml' reads "lmgg" on disk.
GGML_MAGICS = {b"lmgg": "ggml", b"fmgg": "ggmf", b"tjgg": "ggjt", b"algg": "ggla", b"nsgg": "ggsn"}

SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024
"""The safetensors reference implementation refuses headers larger than 100 MB."""
SAFETENSORS_TAIL_WINDOW = 64

ZIP_LOCAL_HEADER = b"PK\x03\x04"
ZIP_LOCAL_HEADER_SIZE = 30
# torch.save before 1.6: pickle protocol 2, then torch's magic number 0x1950a86a20f9469cfc6c as LONG1.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

# onnx.proto ModelProto: field number -> protobuf wire type (0 varint, 2 length-delimited).
ONNX_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2}
ONNX_IR_VERSION_FIELD = 1
ONNX_MAX_IR_VERSION = 64
ONNX_FIELDS_TO_CHECK = 3


LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1\n"


class WeightsFormat(NamedTuple):
    name: str
    detail: str = ""
    lfs_pointer: bool = False
    """The file is a Git LFS pointer: the weights are published wherever LFS objects are fetched at build time."""


def _u32(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


def _u64(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<Q", data, offset)[0]
    return value


# ---- one pure check per format: (first bytes, file size, read at offset) -> format or None ----------

ReadAt = Callable[[int, int], bytes]


def detect_gguf(head: bytes, size: int, read_at: ReadAt) -> WeightsFormat | None:
    if len(head) < 8 or not head.startswith(GGUF_MAGIC):
        return None
    version = _u32(head, 4)
    if not 1 <= version <= GGUF_MAX_VERSION:
        return None
    return WeightsFormat("GGUF", f"version {version}")


def detect_ggml(head: bytes, size: int, read_at: ReadAt) -> WeightsFormat | None:
    name = GGML_MAGICS.get(head[:4])
    return WeightsFormat("GGML", name) if name and len(head) >= 8 else None


def detect_safetensors(head: bytes, size: int, read_at: ReadAt) -> WeightsFormat | None:
    if len(head) < 10:
        return None
    header_len = _u64(head, 0)
    if header_len < 2 or header_len > SAFETENSORS_MAX_HEADER or 8 + header_len > size:
        return None
    if head[8:9] != b"{":
        return None
    # The header is one JSON object, padded with spaces: its last non-space byte must close it.
    end = 8 + header_len
    window_start = max(8, end - SAFETENSORS_TAIL_WINDOW)
    window = head[window_start:end] if end <= len(head) else read_at(window_start, end - window_start)
    if not window.rstrip(b" ").endswith(b"}"):
        return None
    body = head[8 : 8 + min(header_len, HEAD_BYTES)]
    if b'"dtype"' not in body and b'"__metadata__"' not in body and b'"data_offsets"' not in body:
        return None
    return WeightsFormat("safetensors", f"{header_len}-byte header")


def _zip_entry_names(head: bytes) -> list[str]:
    """Names of the zip local file entries that start within `head` (torch writes stored, aligned entries)."""
    names: list[str] = []
    offset = 0
    while offset + ZIP_LOCAL_HEADER_SIZE <= len(head) and head[offset : offset + 4] == ZIP_LOCAL_HEADER:
        flags = struct.unpack_from("<H", head, offset + 6)[0]
        compressed = _u32(head, offset + 18)
        name_len, extra_len = struct.unpack_from("<HH", head, offset + 26)
        name_start = offset + ZIP_LOCAL_HEADER_SIZE
        name = head[name_start : name_start + name_len]
        if len(name) < name_len:
            break
        names.append(name.decode("utf-8", errors="replace"))
        if flags & 0x08:
            # Sizes follow the data (streamed entry): the next header cannot be located from here.
            break
        offset = name_start + name_len + extra_len + compressed
    return names


def detect_pytorch(head: bytes, size: int, read_at: ReadAt) -> WeightsFormat | None:
    if head.startswith(TORCH_LEGACY_MAGIC):
        return WeightsFormat("PyTorch", "legacy pickle checkpoint")
    if not head.startswith(ZIP_LOCAL_HEADER):
        return None
    names = _zip_entry_names(head)
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return WeightsFormat("PyTorch", "zip checkpoint with data.pkl")
    return None


def _varint(data: bytes, offset: int) -> tuple[int, int] | None:
    value, shift = 0, 0
    while offset < len(data) and shift < 64:
        byte = data[offset]
        value |= (byte & 0x7F) << shift
        offset += 1
        if not byte & 0x80:
            return value, offset
        shift += 7
    return None


def detect_onnx(head: bytes, size: int, read_at: ReadAt) -> WeightsFormat | None:
    """ONNX has no magic: the first fields must parse as a ModelProto starting with a small ir_version."""
    offset, fields = 0, 0
    ir_version = None
    while fields < ONNX_FIELDS_TO_CHECK and offset < min(len(head), size):
        tag = _varint(head, offset)
        if tag is None:
            return None
        key, offset = tag
        number, wire_type = key >> 3, key & 0x07
        if ONNX_MODEL_FIELDS.get(number) != wire_type:
            return None
        value = _varint(head, offset)
        if value is None:
            return None
        payload, offset = value
        if fields == 0:
            if number != ONNX_IR_VERSION_FIELD or not 1 <= payload <= ONNX_MAX_IR_VERSION:
                return None
            ir_version = payload
        if wire_type == 2:
            offset += payload
        if offset > size:
            return None
        fields += 1
    if ir_version is None:
        return None
    # Enough fields parsed, or the whole (tiny) file, or a large field (the graph) ran past what was read.
    if fields < ONNX_FIELDS_TO_CHECK and offset != size and not (fields >= 2 and offset >= len(head)):
        return None
    return WeightsFormat("ONNX", f"IR version {ir_version}")


def detect_lfs_pointer(head: bytes, size: int, read_at: ReadAt) -> WeightsFormat | None:
    if not head.startswith(LFS_POINTER_PREFIX):
        return None
    for line in head.splitlines():
        if line.startswith(b"size ") and line[5:].strip().isdigit():
            return WeightsFormat(
                "Git LFS pointer", f"{_human_size(int(line[5:].strip()))} of weights", lfs_pointer=True
            )
    return WeightsFormat("Git LFS pointer", "weights", lfs_pointer=True)


Detector = Callable[[bytes, int, ReadAt], WeightsFormat | None]
_BY_SUFFIX: dict[str, tuple[Detector, ...]] = {
    ".gguf": (detect_gguf, detect_lfs_pointer),
    ".ggml": (detect_ggml, detect_gguf, detect_lfs_pointer),
    ".safetensors": (detect_safetensors, detect_lfs_pointer),
    ".onnx": (detect_onnx, detect_lfs_pointer),
    ".pt": (detect_pytorch, detect_lfs_pointer),
    ".pth": (detect_pytorch, detect_lfs_pointer),
    ".bin": (detect_gguf, detect_ggml, detect_safetensors, detect_pytorch),
}
WEIGHT_SUFFIXES = frozenset(_BY_SUFFIX)
_SUFFIX_TUPLE = tuple(sorted(WEIGHT_SUFFIXES))


def _open_binary(path: Path) -> BinaryIO:
    return path.open("rb")


def detect_weights(path: Path, size: int, opener: Callable[[Path], BinaryIO] = _open_binary) -> WeightsFormat | None:
    """The weights format of the file at `path`, judged from its first bytes and its name's suffix."""
    detectors = _BY_SUFFIX.get(PurePosixPath(path.name).suffix.lower())
    if not detectors:
        return None
    try:
        with opener(path) as handle:
            head = handle.read(HEAD_BYTES)

            def read_at(offset: int, length: int) -> bytes:
                handle.seek(offset)
                return handle.read(length)

            for detector in detectors:
                found = detector(head, size, read_at)
                if found is not None:
                    return found
    except OSError:
        return None
    return None


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


class ModelWeightsPublished(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        for f in ctx.index.files.values():
            # Plain string tests first: public/ of a real shop holds thousands of images and fonts.
            if not f.rel.startswith(PUBLIC_PREFIXES) or not f.rel.lower().endswith(_SUFFIX_TUPLE):
                continue
            found = detect_weights(f.abs, f.size)
            if found is None:
                continue
            url = "/" + f.rel.removeprefix("public/") if f.rel.startswith("public/") else "/_next/" + f.rel[6:]
            if found.lfs_pointer:
                yield Hit(
                    path=f.rel,
                    line=1,
                    column=1,
                    message=(
                        f"a Git LFS pointer to model weights ({found.detail}) sits at {url}: every deployment that "
                        "fetches LFS objects publishes the model there"
                    ),
                    evidence=found.name,
                    key=found.name,
                    confidence=Confidence.MEDIUM,
                )
                continue
            yield Hit(
                path=f.rel,
                line=1,
                column=1,
                message=f"{found.name} model weights are published at {url}: anyone can download the model",
                evidence=f"{found.name} ({found.detail}), {_human_size(f.size)}",
                key=found.name,
            )


RULE_CLASS = ModelWeightsPublished

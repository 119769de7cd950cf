"""LL017 edge cases beyond the fixture pair: each format's magic checks, truncated and look-alike files,
the read budget on huge files, and where findings land."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typing_extensions import Buffer

from leakline.scan.engine import scan
from leakline.scan.index import SourceFile
from leakline.scan.rules.ll017 import (
    HEAD_BYTES,
    WeightsFormat,
    detect_ggml,
    detect_gguf,
    detect_lfs_pointer,
    detect_onnx,
    detect_pytorch,
    detect_safetensors,
    detect_weights,
)

PACKAGE_JSON = '{"name": "app", "dependencies": {"next": "15.5.29"}}'


def _no_read(offset: int, length: int) -> bytes:
    raise AssertionError("this check must not read beyond the head")


def _app(tmp_path: Path, files: dict[str, bytes]) -> Path:
    (tmp_path / "package.json").write_text(PACKAGE_JSON)
    for rel, data in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return tmp_path


def _findings(app: Path) -> list[tuple[str, int, str, str]]:
    result = scan(app, rule_ids=["LL017"])
    assert result.stats.rule_errors == []
    return [(f.path, f.line, f.confidence.value, f.evidence) for f in result.findings]


def _gguf(version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, 0, 0)


def _safetensors(header: Mapping[str, object], pad: int = 0) -> bytes:
    raw = json.dumps(header).encode() + b" " * pad
    return struct.pack("<Q", len(raw)) + raw + bytes(16)


def _zip(names: list[str], *, streamed: bool = False) -> bytes:
    out = io.BytesIO()
    target: BinaryIO = out
    if streamed:
        # A non-seekable target makes zipfile write data descriptors (general purpose flag bit 3).
        class Unseekable(io.RawIOBase):
            def writable(self) -> bool:
                return True

            def write(self, b: Buffer) -> int:
                return out.write(bytes(b))

        target = Unseekable()  # type: ignore[assignment]
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in names:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), b"x" * 10)
    return out.getvalue()


# ---- the format checks, one by one ---------------------------------------------------------------


def test_gguf_needs_magic_and_plausible_version() -> None:
    assert detect_gguf(_gguf(3), 24, _no_read) == WeightsFormat("GGUF", "version 3")
    assert detect_gguf(_gguf(0), 24, _no_read) is None
    assert detect_gguf(_gguf(70000), 24, _no_read) is None
    assert detect_gguf(b"GGUF", 4, _no_read) is None
    assert detect_gguf(b"gguf" + bytes(20), 24, _no_read) is None


def test_ggml_magics_are_read_little_endian() -> None:
    assert detect_ggml(b"lmgg" + bytes(8), 12, _no_read) == WeightsFormat("GGML", "ggml")
    assert detect_ggml(b"tjgg" + bytes(8), 12, _no_read) == WeightsFormat("GGML", "ggjt")
    assert detect_ggml(b"ggml" + bytes(8), 12, _no_read) is None


def test_safetensors_header_must_fit_the_file_and_be_a_json_object() -> None:
    data = _safetensors({"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}}, pad=5)
    header_len = struct.unpack("<Q", data[:8])[0]
    assert detect_safetensors(data, len(data), _no_read) == WeightsFormat("safetensors", f"{header_len}-byte header")
    # Header length beyond the end of the file.
    assert detect_safetensors(data, header_len + 7, _no_read) is None
    # Not a JSON object.
    bad = struct.pack("<Q", 4) + b"[1,]" + bytes(8)
    assert detect_safetensors(bad, len(bad), _no_read) is None
    # A JSON object without tensor entries (a config file with a length prefix).
    config = struct.pack("<Q", 13) + b'{"name": "x"}'
    assert detect_safetensors(config, len(config), _no_read) is None


def test_safetensors_header_end_is_read_at_its_offset_when_beyond_the_head(tmp_path: Path) -> None:
    tensors = {
        f"layer.{i}.weight": {"dtype": "BF16", "shape": [4096, 4096], "data_offsets": [0, 8]} for i in range(400)
    }
    data = _safetensors(tensors)
    assert struct.unpack("<Q", data[:8])[0] > HEAD_BYTES
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    assert detect_weights(path, len(data)) is not None
    # Same header, but its closing brace replaced: the tail read must reject it.
    broken = bytearray(data)
    close = 8 + struct.unpack("<Q", data[:8])[0] - 1
    assert broken[close : close + 1] == b"}"
    broken[close] = ord("x")
    path.write_bytes(bytes(broken))
    assert detect_weights(path, len(broken)) is None


def test_pytorch_zip_needs_a_data_pkl_entry() -> None:
    torch = _zip(["model/data.pkl", "model/byteorder", "model/data/0", "model/version"])
    assert detect_pytorch(torch, len(torch), _no_read) == WeightsFormat("PyTorch", "zip checkpoint with data.pkl")
    later = _zip(["archive/.format_version", "archive/data.pkl", "archive/data/0"])
    assert detect_pytorch(later, len(later), _no_read) is not None
    plain = _zip(["docs/readme.txt", "docs/data.pkl.txt"])
    assert detect_pytorch(plain, len(plain), _no_read) is None


def test_pytorch_streamed_zip_is_judged_by_its_first_entry() -> None:
    first = _zip(["model/data.pkl", "model/data/0"], streamed=True)
    assert detect_pytorch(first, len(first), _no_read) is not None
    hidden = _zip(["model/version", "model/data.pkl"], streamed=True)
    assert detect_pytorch(hidden, len(hidden), _no_read) is None


def test_pytorch_legacy_pickle_magic() -> None:
    legacy = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.rest"
    assert detect_pytorch(legacy, len(legacy), _no_read) == WeightsFormat("PyTorch", "legacy pickle checkpoint")
    plain_pickle = b"\x80\x02}q\x00."
    assert detect_pytorch(plain_pickle, len(plain_pickle), _no_read) is None


def test_onnx_must_start_with_ir_version_and_known_fields() -> None:
    model = b"\x08\x07" + b"\x12\x07pytorch" + b"\x1a\x032.1" + b"\x3a\x02\x0a\x00"
    assert detect_onnx(model, len(model), _no_read) == WeightsFormat("ONNX", "IR version 7")
    # A graph larger than the head: two fields parsed, then the graph runs past what was read.
    big = b"\x08\x09" + b"\x3a\xff\xff\x03" + bytes(HEAD_BYTES)
    assert detect_onnx(big[:HEAD_BYTES], 70000, _no_read) == WeightsFormat("ONNX", "IR version 9")
    assert detect_onnx(b"\x12\x07pytorch\x08\x07", 11, _no_read) is None  # producer_name first
    assert detect_onnx(b"\x08\x00\x12\x00\x1a\x00", 6, _no_read) is None  # ir_version 0
    assert detect_onnx(b"<!DOCTYPE html>", 15, _no_read) is None
    assert detect_onnx(b"\x08\x07\x12\x7f" + b"x" * 10, 14, _no_read) is None  # length beyond the file
    assert detect_onnx(b"\x08\x07\x58\x01", 4, _no_read) is None  # field 11 is not a ModelProto field


def test_lfs_pointer_reports_the_pointed_size() -> None:
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 4368439296\n"
    found = detect_lfs_pointer(pointer, len(pointer), _no_read)
    assert found == WeightsFormat("Git LFS pointer", "4.1 GiB of weights", lfs_pointer=True)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=256), st.integers(min_value=0, max_value=1 << 40))
def test_checks_never_raise_on_arbitrary_bytes(head: bytes, size: int) -> None:
    def read_at(offset: int, length: int) -> bytes:
        return head[offset : offset + length]

    for check in (detect_gguf, detect_ggml, detect_safetensors, detect_pytorch, detect_onnx, detect_lfs_pointer):
        result = check(head, size, read_at)
        assert result is None or isinstance(result, WeightsFormat)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=3), st.integers(min_value=0, max_value=1 << 20))
def test_any_gguf_header_is_recognised(version: int, tensors: int) -> None:
    head = b"GGUF" + struct.pack("<IQQ", version, tensors, 0)
    assert detect_gguf(head, len(head), _no_read) == WeightsFormat("GGUF", f"version {version}")


# ---- the rule over an app -------------------------------------------------------------------------


def test_huge_file_costs_one_small_read(tmp_path: Path) -> None:
    path = tmp_path / "public" / "big.gguf"
    path.parent.mkdir()
    with path.open("wb") as handle:
        handle.write(_gguf())
        handle.truncate(6 * 1024**3)  # sparse: 6 GiB on paper
    reads: list[int] = []

    class Counting(io.FileIO):
        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            reads.append(len(data))
            return data

    def opener(p: Path) -> BinaryIO:
        return Counting(str(p), "rb")

    assert detect_weights(path, 6 * 1024**3, opener) == WeightsFormat("GGUF", "version 3")
    assert reads == [HEAD_BYTES]


def test_bin_is_reported_only_when_a_weights_format_matches(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "public/a/pytorch_model.bin": _zip(["pytorch_model/data.pkl", "pytorch_model/data/0"]),
            "public/b/model.bin": _gguf(),
            "public/c/tokenizer.bin": b"\x00\x01binary vocabulary table" * 10,
            "public/d/archive.bin": _zip(["a.txt"]),
            "public/e/weights.bin": _safetensors({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}),
        },
    )
    assert [(p, line) for p, line, _, _ in _findings(app)] == [
        ("public/a/pytorch_model.bin", 1),
        ("public/b/model.bin", 1),
        ("public/e/weights.bin", 1),
    ]


def test_only_public_and_next_static_are_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "public/m.gguf": _gguf(),
            ".next/static/media/m.gguf": _gguf(),
            "models/m.gguf": _gguf(),
            "src/public/m.gguf": _gguf(),
            "app/m.gguf": _gguf(),
        },
    )
    assert [(p, line) for p, line, _, _ in _findings(app)] == [(".next/static/media/m.gguf", 1), ("public/m.gguf", 1)]


def test_uppercase_extension_and_lfs_pointer_confidence(tmp_path: Path) -> None:
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1024\n"
    app = _app(tmp_path, {"public/M.GGUF": _gguf(2), "public/q.safetensors": pointer, "public/intro.mp4": pointer})
    assert _findings(app) == [
        ("public/M.GGUF", 1, "high", "GGUF (version 2), 24 B"),
        ("public/q.safetensors", 1, "medium", "Git LFS pointer"),
    ]


@pytest.mark.parametrize("name", ["empty.gguf", "empty.onnx", "empty.safetensors", "empty.pt", "empty.bin"])
def test_empty_and_unreadable_files_are_not_findings(tmp_path: Path, name: str) -> None:
    app = _app(tmp_path, {f"public/{name}": b""})
    assert _findings(app) == []


def test_findings_on_big_binaries_never_read_them_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path, {"public/small.gguf": _gguf()})
    big = tmp_path / "public" / "big.gguf"
    with big.open("wb") as handle:
        handle.write(_gguf())
        handle.truncate(64 * 1024 * 1024)
    loaded: list[str] = []
    original = SourceFile.data

    def spy(self: SourceFile) -> bytes:
        loaded.append(self.rel)
        return original(self)

    monkeypatch.setattr(SourceFile, "data", spy)
    result = scan(app, rule_ids=["LL017"])
    assert [(f.path, f.line, f.suppressed) for f in result.findings] == [
        ("public/big.gguf", 1, None),
        ("public/small.gguf", 1, None),
    ]
    # The engine looks for leakline-ignore comments only in files that can hold them.
    assert "public/big.gguf" not in loaded
    assert not any(reason.startswith("invalid UTF-8") for reason in result.stats.skipped)

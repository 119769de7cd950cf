"""Random access: any byte range decrypts to the same slice of the plaintext, touching only its segments."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.weights.container import EncryptedWeightsReader, decrypt_range
from leakline.weights.errors import SegmentAuthenticationError
from tests.weights.helpers import kat_key, seal

_DIR = Path(tempfile.mkdtemp(prefix="weights-ra-"))


def _write(blob: bytes, name: str) -> Path:
    path = _DIR / name
    path.write_bytes(blob)
    return path


@settings(max_examples=100, deadline=None)
@given(
    plaintext=st.binary(min_size=0, max_size=1500),
    segment_size=st.sampled_from([64, 100, 257]),
    data=st.data(),
)
def test_any_range_equals_the_plaintext_slice(plaintext: bytes, segment_size: int, data: st.DataObject) -> None:
    blob, _ = seal(plaintext, segment_size=segment_size)
    path = _write(blob, f"ra-{segment_size}.llw")
    offset = data.draw(st.integers(0, len(plaintext) + 10))
    length = data.draw(st.integers(0, len(plaintext) + 10))
    assert decrypt_range(path, kat_key(), offset, length) == plaintext[offset : offset + length]


def test_reader_is_a_seekable_file_object() -> None:
    plaintext = bytes(i % 251 for i in range(1000))
    path = _write(seal(plaintext, segment_size=64)[0], "file.llw")
    with EncryptedWeightsReader(path, kat_key()) as raw, io.BufferedReader(raw, buffer_size=100) as reader:
        assert reader.read(10) == plaintext[:10]
        reader.seek(-5, io.SEEK_END)
        assert reader.read() == plaintext[-5:]
        reader.seek(500)
        assert reader.tell() == 500
        assert reader.read(200) == plaintext[500:700]
        reader.seek(0)
        assert reader.read() == plaintext


def test_damage_only_fails_reads_that_touch_the_damaged_segment() -> None:
    plaintext = bytes(i % 253 for i in range(640))  # 10 segments of 64 bytes
    blob, signed = seal(plaintext, segment_size=64)
    header_length = signed.manifest.ciphertext_size - 10 * 80
    damaged = bytearray(blob)
    damaged[header_length + 4 * 80 + 7] ^= 0x10  # inside segment 4
    path = _write(bytes(damaged), "damaged.llw")
    with EncryptedWeightsReader(path, kat_key()) as reader:
        assert reader.read_range(0, 256) == plaintext[:256]
        assert reader.read_range(320, 320) == plaintext[320:]
        with pytest.raises(SegmentAuthenticationError) as caught:
            reader.read_range(250, 10)
        assert caught.value.index == 4


def test_progress_callbacks_add_up_to_the_plaintext(tmp_path: Path) -> None:
    from leakline.weights.container import decrypt_file, encrypt_file, verify_file

    plain = tmp_path / "m.bin"
    plain.write_bytes(bytes(range(256)) * 40)  # 10,240 bytes
    steps: list[int] = []
    encrypt_file(plain, tmp_path / "m.llw", kat_key(), model_id="m", segment_size=1000, on_progress=steps.append)
    assert steps == [1000] * 10 + [240]
    steps.clear()
    decrypt_file(tmp_path / "m.llw", tmp_path / "out.bin", kat_key(), on_progress=steps.append)
    assert steps == [1000] * 10 + [240]
    assert (tmp_path / "out.bin").read_bytes() == plain.read_bytes()
    steps.clear()
    verify_file(tmp_path / "m.llw", kat_key(), on_progress=steps.append)
    assert sum(steps) == 10_240

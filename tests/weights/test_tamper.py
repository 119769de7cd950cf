"""Every way a container can be damaged is detected, and reported with the right typed error.

Properties (hypothesis): any single bit flip, truncation at any point, reordering segments, swapping a
segment in from another file, and header edits. Small segments (64 bytes) keep many segments in a small file.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.weights.container import Pins, decrypt_stream
from leakline.weights.errors import (
    BadMagicError,
    FormatError,
    HeaderAuthenticationError,
    HeaderMalformedError,
    KeyMismatchError,
    ManifestMismatchError,
    ManifestSignatureError,
    SegmentAuthenticationError,
    SegmentReorderedError,
    SegmentTruncationError,
    TrailerError,
    TruncatedError,
    UnsupportedVersionError,
    WrappedKeyError,
)
from leakline.weights.format import (
    OFF_HEADER_LENGTH,
    OFF_KEY_ID,
    OFF_MODEL_ID_LENGTH,
    OFF_NONCE_PREFIX,
    OFF_SALT,
    OFF_SEGMENT_SIZE,
    OFF_VERSION,
    OFF_WRAPPED_KEY,
    SegmentCipher,
)
from leakline.weights.keys import generate_key, key_from_material
from leakline.weights.manifest import FOOTER_SIZE, SIGNATURE_SIZE
from tests.weights.helpers import KAT_KEK, KAT_SEGMENT_SIZE, kat_key, seal

PLAINTEXT = bytes(range(256)) * 2 + b"tail"  # 516 bytes: 8 full segments and a short final one
BLOB, SIGNED = seal(PLAINTEXT)
HEADER_LEN = int.from_bytes(BLOB[OFF_HEADER_LENGTH : OFF_HEADER_LENGTH + 4], "big")
CT_SEG = KAT_SEGMENT_SIZE + 16
CT_END = SIGNED.manifest.ciphertext_size
COUNT = SIGNED.manifest.segment_count
JSON_END = CT_END + len(SIGNED.json_bytes)
SIG_END = JSON_END + SIGNATURE_SIZE


def open_blob(blob: bytes, key=None, pins=None) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), len(blob), out, key or kat_key(), source="m.llw", pins=pins,
                   check_plaintext_digest=True)
    return out.getvalue()


def flip(blob: bytes, bit: int) -> bytes:
    damaged = bytearray(blob)
    damaged[bit // 8] ^= 1 << (bit % 8)
    return bytes(damaged)


def test_intact_container_round_trips() -> None:
    assert COUNT == 9
    assert open_blob(BLOB) == PLAINTEXT


def expected_errors(offset: int) -> tuple[type[Exception], ...]:
    """Which error a change of the byte at `offset` must produce."""
    if offset < OFF_VERSION:
        return (BadMagicError,)
    if offset == OFF_VERSION:
        return (UnsupportedVersionError,)
    if offset < OFF_SEGMENT_SIZE:
        return (HeaderMalformedError,)
    if offset < OFF_KEY_ID:
        return (HeaderMalformedError, HeaderAuthenticationError)
    if offset < OFF_WRAPPED_KEY:
        return (KeyMismatchError,)
    if offset < OFF_SALT:
        return (WrappedKeyError,)
    if offset < OFF_MODEL_ID_LENGTH:
        return (HeaderAuthenticationError,)
    if offset < HEADER_LEN - 32:
        return (HeaderMalformedError, HeaderAuthenticationError)  # model id/version: lengths, UTF-8, content
    if offset < HEADER_LEN:
        return (HeaderAuthenticationError,)
    if offset < CT_END:
        return (SegmentAuthenticationError,)
    if offset < JSON_END:
        return (TrailerError, ManifestSignatureError)
    if offset < SIG_END:
        return (ManifestSignatureError,)
    if offset < len(BLOB) - 8:
        return (TrailerError,)  # the manifest length field
    return (TruncatedError,)  # the end magic is gone: no trailer


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(BLOB) * 8 - 1))
def test_any_single_bit_flip_is_detected_with_the_right_error(bit: int) -> None:
    with pytest.raises(FormatError) as caught:
        open_blob(flip(BLOB, bit))
    assert isinstance(caught.value, expected_errors(bit // 8)), (bit // 8, type(caught.value))
    if isinstance(caught.value, SegmentAuthenticationError):
        assert caught.value.index == (bit // 8 - HEADER_LEN) // CT_SEG
        assert caught.value.offset == HEADER_LEN + caught.value.index * CT_SEG
        assert f"segment {caught.value.index} " in caught.value.message


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=len(BLOB) - 1))
def test_truncation_at_any_point_is_detected(length: int) -> None:
    with pytest.raises(TruncatedError) as caught:
        open_blob(BLOB[:length])
    assert caught.value.offset == length


def test_cutting_segments_but_keeping_the_trailer_is_detected() -> None:
    cut = BLOB[: CT_END - CT_SEG] + BLOB[CT_END:]
    with pytest.raises(ManifestMismatchError) as caught:
        open_blob(cut)
    assert caught.value.field == "ciphertext_size"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, COUNT - 2), st.integers(0, COUNT - 2))
def test_swapping_two_segments_is_reported_as_reordering(i: int, j: int) -> None:
    if i == j:
        return
    a, b = sorted((i, j))
    seg = [BLOB[HEADER_LEN + k * CT_SEG : HEADER_LEN + (k + 1) * CT_SEG] for k in range(COUNT - 1)]
    seg[a], seg[b] = seg[b], seg[a]
    swapped = BLOB[:HEADER_LEN] + b"".join(seg) + BLOB[HEADER_LEN + (COUNT - 1) * CT_SEG :]
    with pytest.raises(SegmentReorderedError) as caught:
        open_blob(swapped)
    assert (caught.value.index, caught.value.belongs_at) == (a, b)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, COUNT - 2))
def test_a_segment_from_another_file_is_rejected(index: int) -> None:
    other, _ = seal(PLAINTEXT)  # same key, model, version and length; fresh data key and salt
    start = HEADER_LEN + index * CT_SEG
    mixed = BLOB[:start] + other[start : start + CT_SEG] + BLOB[start + CT_SEG :]
    with pytest.raises(SegmentAuthenticationError) as caught:
        open_blob(mixed)
    assert caught.value.index == index
    assert not isinstance(caught.value, SegmentReorderedError)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_header_byte_edit_is_detected(data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, HEADER_LEN - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != BLOB[offset]))
    edited = BLOB[:offset] + bytes([value]) + BLOB[offset + 1 :]
    with pytest.raises(FormatError) as caught:
        open_blob(edited)
    assert isinstance(caught.value, expected_errors(offset))


def test_segment_cipher_names_a_final_flag_mismatch() -> None:
    # The manifest already catches cut files; the final-segment flag is the second, independent line.
    cipher = SegmentCipher(bytes(32), bytes(7), source="x")
    sealed = cipher.seal(3, b"data", last=False)
    with pytest.raises(SegmentTruncationError, match="not the final segment"):
        cipher.open(3, sealed, True, offset=0, count=4)
    sealed_last = cipher.seal(3, b"data", last=True)
    with pytest.raises(SegmentTruncationError, match="more data follows"):
        cipher.open(3, sealed_last, False, offset=0, count=5)


def test_changing_the_model_version_in_the_header_breaks_authentication() -> None:
    # Same length, so the structure stays valid: only the MAC can notice.
    position = BLOB.index(b"\x00\x011", OFF_NONCE_PREFIX) + 2
    edited = BLOB[:position] + b"2" + BLOB[position + 1 :]
    with pytest.raises(HeaderAuthenticationError):
        open_blob(edited)


def test_an_older_version_pinned_against_is_refused() -> None:
    old, _ = seal(PLAINTEXT, model_version="1")
    with pytest.raises(ManifestMismatchError) as caught:
        open_blob(old, pins=Pins(model_id="llama-test", model_version="2"))
    assert caught.value.field == "model_version"
    assert open_blob(old, pins=Pins(model_id="llama-test", model_version="1")) == PLAINTEXT


def test_wrong_key_is_named_as_such() -> None:
    with pytest.raises(KeyMismatchError, match="key id"):
        open_blob(BLOB, key=generate_key())


def test_manifest_signed_by_another_publisher_is_refused() -> None:
    impostor = key_from_material(KAT_KEK, bytes(32))  # same encryption key, different signing key
    blob, _ = seal(PLAINTEXT, key=impostor)
    with pytest.raises(ManifestSignatureError):
        open_blob(blob, key=kat_key())


def test_manifest_edit_with_valid_json_is_refused() -> None:
    forged_json = SIGNED.json_bytes.replace(b'"model_version":"1"', b'"model_version":"9"')
    forged = BLOB[:CT_END] + forged_json + BLOB[JSON_END:]
    with pytest.raises(ManifestSignatureError):
        open_blob(forged)


def test_trailer_footer_layout() -> None:
    assert len(BLOB) == SIG_END + FOOTER_SIZE


def test_inspect_without_key_reports_a_forged_manifest(tmp_path: Path) -> None:
    from leakline.weights.container import inspect_file

    good = tmp_path / "good.llw"
    good.write_bytes(BLOB)
    intact = inspect_file(good)
    assert intact.signature_valid is True
    assert intact.consistency_error is None
    forged_json = SIGNED.json_bytes.replace(b'"model_version":"1"', b'"model_version":"9"')
    forged = tmp_path / "forged.llw"
    forged.write_bytes(BLOB[:CT_END] + forged_json + BLOB[JSON_END:])
    report = inspect_file(forged)
    assert report.signature_valid is False
    assert report.consistency_error == (
        f"{forged}: manifest model_version is '9' but the header's model_version is '1'"
    )

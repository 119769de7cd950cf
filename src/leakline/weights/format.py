"""The leakline weights container, version 1: header, segment layout and per-segment AEAD.

A container is ``header ‖ segment 0 ‖ … ‖ segment n-1 ‖ trailer`` (see docs/weights-format.md). This
module holds the byte-level rules as small pure functions over bytes, in the manner of Tink's
AES-GCM-HKDF-Streaming: a random 32-byte data key wrapped under the key-encryption key (AES key wrap,
RFC 3394); a per-file segment key derived with HKDF-SHA256 from the data key, a random salt and the model id
and version (the associated data); each segment sealed with AES-256-GCM under the nonce
``prefix(7) ‖ counter(4, big-endian) ‖ last-segment flag(1)``. The header is authenticated by an
HMAC-SHA256 under a second HKDF-derived key, so any header edit is detected before a segment is read.
The manifest trailer lives in `manifest.py`; streaming over files lives in `container.py`.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from leakline.weights.errors import (
    BadMagicError,
    HeaderAuthenticationError,
    HeaderMalformedError,
    KeyMismatchError,
    SegmentAuthenticationError,
    SegmentReorderedError,
    SegmentTruncationError,
    TruncatedError,
    UnsupportedVersionError,
    WeightsUsageError,
    WrappedKeyError,
)

MAGIC = b"LLWEIGHT"
FORMAT_VERSION = 1

KEY_SIZE = 32
"""AES-256: key-encryption key, data key and derived segment key are all 32 bytes."""
KEY_ID_SIZE = 16
WRAPPED_KEY_SIZE = KEY_SIZE + 8
"""RFC 3394 key wrap adds one 8-byte integrity block."""
SALT_SIZE = 32
NONCE_PREFIX_SIZE = 7
COUNTER_SIZE = 4
NONCE_SIZE = NONCE_PREFIX_SIZE + COUNTER_SIZE + 1
TAG_SIZE = 16
HEADER_MAC_SIZE = 32

DEFAULT_SEGMENT_SIZE = 1 << 20
MIN_SEGMENT_SIZE = 64
"""Small segments exist for tests and known-answer vectors; real files use 1 MiB."""
MAX_SEGMENT_SIZE = 64 << 20
MAX_SEGMENTS = 1 << (8 * COUNTER_SIZE)
MAX_NAME_BYTES = 255

LAST_SEGMENT = 1
NOT_LAST_SEGMENT = 0

SEGMENT_KEY_INFO = b"leakline-weights/v1/segment-key\x00"
HEADER_MAC_INFO = b"leakline-weights/v1/header-mac\x00"

# Byte offsets of the fixed part of the header, so that errors can name where a problem is.
OFF_MAGIC = 0
OFF_VERSION = OFF_MAGIC + len(MAGIC)
OFF_HEADER_LENGTH = OFF_VERSION + 1
OFF_SEGMENT_SIZE = OFF_HEADER_LENGTH + 4
OFF_KEY_ID = OFF_SEGMENT_SIZE + 4
OFF_WRAPPED_KEY = OFF_KEY_ID + KEY_ID_SIZE
OFF_SALT = OFF_WRAPPED_KEY + WRAPPED_KEY_SIZE
OFF_NONCE_PREFIX = OFF_SALT + SALT_SIZE
OFF_MODEL_ID_LENGTH = OFF_NONCE_PREFIX + NONCE_PREFIX_SIZE
FIXED_HEADER_SIZE = OFF_MODEL_ID_LENGTH
PREAMBLE_SIZE = OFF_SEGMENT_SIZE
"""Magic, version and header length: enough to know how many header bytes to read."""
MIN_HEADER_SIZE = FIXED_HEADER_SIZE + 2 + 1 + 2 + HEADER_MAC_SIZE
MAX_HEADER_SIZE = FIXED_HEADER_SIZE + 2 + MAX_NAME_BYTES + 2 + MAX_NAME_BYTES + HEADER_MAC_SIZE

_NAME_FORBIDDEN = frozenset(range(0x20)) | {0x7F}


@dataclass(frozen=True)
class Header:
    """The parsed header. `raw` is the exact bytes as stored (hashed into the manifest and MAC'd)."""

    version: int
    segment_size: int
    key_id: bytes
    wrapped_key: bytes
    salt: bytes
    nonce_prefix: bytes
    model_id: str
    model_version: str
    mac: bytes
    raw: bytes

    @property
    def length(self) -> int:
        return len(self.raw)

    @property
    def associated_data(self) -> bytes:
        return encode_associated_data(self.model_id, self.model_version)


def encode_associated_data(model_id: str, model_version: str) -> bytes:
    """Model id and version, length-prefixed so that ("ab", "c") and ("a", "bc") differ."""
    mid = model_id.encode("utf-8")
    ver = model_version.encode("utf-8")
    return struct.pack(">H", len(mid)) + mid + struct.pack(">H", len(ver)) + ver


def validate_name(value: str, *, field: str, allow_empty: bool) -> None:
    """Model ids and versions are short printable UTF-8 strings (they appear in logs and file listings)."""
    encoded = value.encode("utf-8")
    if not encoded and not allow_empty:
        raise WeightsUsageError(f"{field} must not be empty")
    if len(encoded) > MAX_NAME_BYTES:
        raise WeightsUsageError(f"{field} is {len(encoded)} bytes long; at most {MAX_NAME_BYTES} are allowed")
    if any(ch in _NAME_FORBIDDEN for ch in encoded):
        raise WeightsUsageError(f"{field} contains a control character")


def derive_key_id(kek: bytes) -> bytes:
    """A public name for a key-encryption key: HKDF output, so it reveals nothing about the key."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_ID_SIZE, salt=None, info=b"leakline-weights/v1/key-id"
    ).derive(kek)


def derive_segment_key(data_key: bytes, salt: bytes, associated_data: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=SEGMENT_KEY_INFO + associated_data
    ).derive(data_key)


def derive_header_mac_key(data_key: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=HEADER_MAC_INFO).derive(data_key)


def wrap_data_key(kek: bytes, data_key: bytes) -> bytes:
    return aes_key_wrap(kek, data_key)


def header_mac(mac_key: bytes, header_without_mac: bytes) -> bytes:
    mac = crypto_hmac.HMAC(mac_key, hashes.SHA256())
    mac.update(header_without_mac)
    return mac.finalize()


def build_header(
    *,
    segment_size: int,
    key_id: bytes,
    wrapped_key: bytes,
    salt: bytes,
    nonce_prefix: bytes,
    model_id: str,
    model_version: str,
    data_key: bytes,
) -> Header:
    """Serialise and MAC a header. Inputs are validated by the caller (they come from our own code)."""
    assoc = encode_associated_data(model_id, model_version)
    length = FIXED_HEADER_SIZE + len(assoc) + HEADER_MAC_SIZE
    body = (
        MAGIC
        + bytes([FORMAT_VERSION])
        + struct.pack(">II", length, segment_size)
        + key_id
        + wrapped_key
        + salt
        + nonce_prefix
        + assoc
    )
    mac = header_mac(derive_header_mac_key(data_key, salt), body)
    return Header(
        version=FORMAT_VERSION,
        segment_size=segment_size,
        key_id=key_id,
        wrapped_key=wrapped_key,
        salt=salt,
        nonce_prefix=nonce_prefix,
        model_id=model_id,
        model_version=model_version,
        mac=mac,
        raw=body + mac,
    )


def parse_preamble(data: bytes, *, source: str) -> int:
    """Check magic and version in the first bytes of a file; return the declared header length."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        if len(data) < len(MAGIC) and MAGIC.startswith(data):
            raise TruncatedError(
                f"{source}: file ends at byte {len(data)}, inside the magic", offset=len(data)
            )
        raise BadMagicError(
            f"{source}: not a leakline weights file (bytes 0–7 are not the magic {MAGIC.decode()!r})",
            hint="the file may be damaged, or it is not an encrypted weights file",
        )
    if len(data) <= OFF_VERSION:
        raise TruncatedError(f"{source}: file ends at byte {len(data)}, inside the header", offset=len(data))
    version = data[OFF_VERSION]
    if version != FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"{source}: format version {version} at byte {OFF_VERSION} is not supported "
            f"(this leakline reads version {FORMAT_VERSION})"
        )
    if len(data) < PREAMBLE_SIZE:
        raise TruncatedError(f"{source}: file ends at byte {len(data)}, inside the header", offset=len(data))
    (length,) = struct.unpack_from(">I", data, OFF_HEADER_LENGTH)
    if not MIN_HEADER_SIZE <= length <= MAX_HEADER_SIZE:
        raise HeaderMalformedError(
            f"{source}: header length {length} at byte {OFF_HEADER_LENGTH} is outside "
            f"{MIN_HEADER_SIZE}–{MAX_HEADER_SIZE}",
            field="header_length",
            offset=OFF_HEADER_LENGTH,
        )
    return int(length)


def _read_name(data: bytes, offset: int, *, field: str, source: str, allow_empty: bool) -> tuple[str, int]:
    if offset + 2 > len(data) - HEADER_MAC_SIZE:
        raise HeaderMalformedError(
            f"{source}: {field} length at byte {offset} runs past the header end",
            field=f"{field}_length",
            offset=offset,
        )
    (size,) = struct.unpack_from(">H", data, offset)
    start = offset + 2
    end = start + size
    if end > len(data) - HEADER_MAC_SIZE or (size == 0 and not allow_empty) or size > MAX_NAME_BYTES:
        raise HeaderMalformedError(
            f"{source}: {field} length {size} at byte {offset} does not fit the header",
            field=f"{field}_length",
            offset=offset,
        )
    raw = data[start:end]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderMalformedError(
            f"{source}: {field} is not valid UTF-8 at byte {start + exc.start}",
            field=field,
            offset=start + exc.start,
        ) from None
    bad = next((i for i, ch in enumerate(raw) if ch in _NAME_FORBIDDEN), None)
    if bad is not None:
        raise HeaderMalformedError(
            f"{source}: {field} contains a control character at byte {start + bad}",
            field=field,
            offset=start + bad,
        )
    return text, end


def parse_header(data: bytes, *, source: str) -> Header:
    """Parse the structure of a header (no key needed). `data` must hold at least the declared length."""
    length = parse_preamble(data, source=source)
    if len(data) < length:
        raise TruncatedError(
            f"{source}: file ends at byte {len(data)}, inside the {length}-byte header", offset=len(data)
        )
    raw = bytes(data[:length])
    (segment_size,) = struct.unpack_from(">I", raw, OFF_SEGMENT_SIZE)
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise HeaderMalformedError(
            f"{source}: segment size {segment_size} at byte {OFF_SEGMENT_SIZE} is outside "
            f"{MIN_SEGMENT_SIZE}–{MAX_SEGMENT_SIZE}",
            field="segment_size",
            offset=OFF_SEGMENT_SIZE,
        )
    model_id, after_id = _read_name(raw, OFF_MODEL_ID_LENGTH, field="model_id", source=source, allow_empty=False)
    model_version, after_version = _read_name(
        raw, after_id, field="model_version", source=source, allow_empty=True
    )
    if after_version + HEADER_MAC_SIZE != length:
        raise HeaderMalformedError(
            f"{source}: header length {length} at byte {OFF_HEADER_LENGTH} disagrees with its fields "
            f"(they need {after_version + HEADER_MAC_SIZE} bytes)",
            field="header_length",
            offset=OFF_HEADER_LENGTH,
        )
    return Header(
        version=raw[OFF_VERSION],
        segment_size=int(segment_size),
        key_id=raw[OFF_KEY_ID:OFF_WRAPPED_KEY],
        wrapped_key=raw[OFF_WRAPPED_KEY:OFF_SALT],
        salt=raw[OFF_SALT:OFF_NONCE_PREFIX],
        nonce_prefix=raw[OFF_NONCE_PREFIX:OFF_MODEL_ID_LENGTH],
        model_id=model_id,
        model_version=model_version,
        mac=raw[length - HEADER_MAC_SIZE :],
        raw=raw,
    )


def unlock_header(header: Header, kek: bytes, key_id: bytes, *, source: str) -> bytes:
    """Check the key id, unwrap the data key and verify the header MAC; return the segment key."""
    if not hmac.compare_digest(header.key_id, key_id):
        raise KeyMismatchError(
            f"{source}: encrypted for key id {header.key_id.hex()} (byte {OFF_KEY_ID}), "
            f"but the given key has id {key_id.hex()}",
            hint="use the key file this model was encrypted with",
        )
    try:
        data_key = aes_key_unwrap(kek, header.wrapped_key)
    except InvalidUnwrap:
        raise WrappedKeyError(
            f"{source}: the wrapped data key (bytes {OFF_WRAPPED_KEY}–{OFF_SALT - 1}) does not unwrap "
            "under the given key: the header was modified"
        ) from None
    expected = header_mac(derive_header_mac_key(data_key, header.salt), header.raw[: -HEADER_MAC_SIZE])
    if not hmac.compare_digest(expected, header.mac):
        raise HeaderAuthenticationError(
            f"{source}: header authentication failed (bytes 0–{header.length - 1}): a header field such as "
            "the model id, version, salt, nonce prefix or segment size was modified"
        )
    return derive_segment_key(data_key, header.salt, header.associated_data)


# --- segment layout ------------------------------------------------------------------------------------


def ciphertext_segment_size(segment_size: int) -> int:
    return segment_size + TAG_SIZE


def segment_count(plaintext_size: int, segment_size: int) -> int:
    """Every container has at least one segment: an empty plaintext is one empty, final segment."""
    return max(1, -(-plaintext_size // segment_size))


@dataclass(frozen=True)
class Layout:
    """Where the segments of one container are: derived from the header and the ciphertext body size."""

    header_length: int
    segment_size: int
    body_size: int
    """Bytes of all segments together (the file minus header and trailer)."""

    @property
    def ct_segment_size(self) -> int:
        return ciphertext_segment_size(self.segment_size)

    @property
    def count(self) -> int:
        return max(1, -(-self.body_size // self.ct_segment_size))

    @property
    def plaintext_size(self) -> int:
        return self.body_size - self.count * TAG_SIZE

    @property
    def ciphertext_size(self) -> int:
        """Header plus segments: the bytes covered by the manifest's ciphertext SHA-256."""
        return self.header_length + self.body_size

    def segment_offset(self, index: int) -> int:
        return self.header_length + index * self.ct_segment_size

    def segment_ct_length(self, index: int) -> int:
        if index < self.count - 1:
            return self.ct_segment_size
        return self.body_size - (self.count - 1) * self.ct_segment_size

    def plaintext_offset(self, index: int) -> int:
        return index * self.segment_size

    def is_boundary(self, offset: int) -> bool:
        """Whether a transfer may (re)start at `offset`: the file start, a segment start, or the trailer."""
        if offset in (0, self.ciphertext_size):
            return True
        relative = offset - self.header_length
        return 0 <= relative < self.body_size and relative % self.ct_segment_size == 0

    def boundary_at_or_before(self, offset: int) -> int:
        """The last boundary not after `offset`: where to resume when `offset` bytes are already here."""
        if offset >= self.ciphertext_size:
            return self.ciphertext_size
        if offset < self.header_length:
            return 0
        return self.header_length + (offset - self.header_length) // self.ct_segment_size * self.ct_segment_size


def make_layout(header_length: int, segment_size: int, body_size: int, *, source: str) -> Layout:
    layout = Layout(header_length=header_length, segment_size=segment_size, body_size=body_size)
    last = layout.count - 1
    if body_size < TAG_SIZE or layout.segment_ct_length(last) < TAG_SIZE:
        end = header_length + body_size
        raise TruncatedError(
            f"{source}: segment {last} at byte {layout.segment_offset(last)} is "
            f"{max(0, end - layout.segment_offset(last))} bytes, shorter than its {TAG_SIZE}-byte tag",
            offset=end,
        )
    if layout.count > MAX_SEGMENTS:
        raise TruncatedError(f"{source}: more than {MAX_SEGMENTS} segments", offset=header_length)
    return layout


# --- segment sealing --------------------------------------------------------------------------------


def segment_nonce(nonce_prefix: bytes, index: int, last: bool) -> bytes:
    return nonce_prefix + struct.pack(">IB", index, LAST_SEGMENT if last else NOT_LAST_SEGMENT)


MAX_DIAGNOSE_SEGMENTS = 4096
"""On failure we try the segment under other positions to tell reordering from damage; bounded work."""


class SegmentCipher:
    """Seals and opens the segments of one container under its derived segment key."""

    def __init__(self, segment_key: bytes, nonce_prefix: bytes, *, source: str = "<stream>") -> None:
        self._aead = AESGCM(segment_key)
        self._prefix = nonce_prefix
        self._source = source

    def seal(self, index: int, plaintext: bytes, last: bool) -> bytes:
        return self._aead.encrypt(segment_nonce(self._prefix, index, last), plaintext, None)

    def seal_into(self, index: int, plaintext: memoryview, last: bool, out: memoryview) -> None:
        """Like `seal`, into `out` (len(plaintext) + TAG_SIZE bytes): no allocation per segment."""
        self._aead.encrypt_into(segment_nonce(self._prefix, index, last), plaintext, None, out)

    def open(self, index: int, ciphertext: bytes, last: bool, *, offset: int, count: int) -> bytes:
        try:
            return self._aead.decrypt(segment_nonce(self._prefix, index, last), ciphertext, None)
        except InvalidTag:
            raise self.diagnose(index, ciphertext, last, offset=offset, count=count) from None

    def open_into(
        self, index: int, ciphertext: memoryview, last: bool, out: memoryview, *, offset: int, count: int
    ) -> None:
        """Like `open`, into `out` (len(ciphertext) - TAG_SIZE bytes). On failure `out` must be discarded."""
        try:
            self._aead.decrypt_into(segment_nonce(self._prefix, index, last), ciphertext, None, out)
        except InvalidTag:
            raise self.diagnose(index, bytes(ciphertext), last, offset=offset, count=count) from None

    def _opens_as(self, index: int, ciphertext: bytes, last: bool) -> bool:
        try:
            self._aead.decrypt(segment_nonce(self._prefix, index, last), ciphertext, None)
        except InvalidTag:
            return False
        return True

    def diagnose(self, index: int, ciphertext: bytes, last: bool, *, offset: int, count: int) -> Exception:
        """Name the damage: a wrong final flag (truncation/append), a moved segment, or modified bytes."""
        span = f"segment {index} (bytes {offset}–{offset + len(ciphertext) - 1})"
        if self._opens_as(index, ciphertext, not last):
            if last:
                return SegmentTruncationError(
                    f"{self._source}: {span} is not the final segment, but the file ends after it: "
                    "segments were cut off the end",
                    index=index,
                    offset=offset,
                )
            return SegmentTruncationError(
                f"{self._source}: {span} is the final segment, but more data follows it: "
                "data was appended",
                index=index,
                offset=offset,
            )
        for other in range(min(max(count, index + 2), MAX_DIAGNOSE_SEGMENTS)):
            if other == index:
                continue
            for flag in (False, True):
                if self._opens_as(other, ciphertext, flag):
                    return SegmentReorderedError(
                        f"{self._source}: {span} holds segment {other}: segments were reordered or duplicated",
                        index=index,
                        offset=offset,
                        belongs_at=other,
                    )
        return SegmentAuthenticationError(
            f"{self._source}: {span} failed authentication: its bytes were modified, or it was copied "
            "from another file",
            index=index,
            offset=offset,
        )

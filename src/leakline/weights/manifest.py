"""The signed manifest: what a weights container is, bound by an Ed25519 signature.

The manifest names the model id and version, the key id, the segment layout, and the SHA-256 of both the
plaintext and the ciphertext (header plus segments), so that a file can be checked against what its
publisher signed and an older, equally valid file cannot be swapped in for a newer one. It is stored as the
container's trailer: ``manifest JSON ‖ signature(64) ‖ manifest length (u32 BE) ‖ b"LLWTRAIL"``. The JSON
is canonical (sorted keys, no spaces, UTF-8) and the signature covers ``DOMAIN ‖ JSON``.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from leakline.weights.errors import ManifestSignatureError, TrailerError, TruncatedError

MANIFEST_FORMAT = "leakline-weights-manifest"
MANIFEST_VERSION = 1
SIGNATURE_DOMAIN = b"leakline-weights-manifest/v1\n"
SIGNATURE_SIZE = 64
TRAILER_MAGIC = b"LLWTRAIL"
FOOTER_SIZE = 4 + len(TRAILER_MAGIC)
MAX_MANIFEST_BYTES = 64 * 1024

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Manifest:
    model_id: str
    model_version: str
    key_id: str
    segment_size: int
    segment_count: int
    plaintext_size: int
    ciphertext_size: int
    """Bytes of header plus segments (everything the ciphertext SHA-256 covers)."""
    plaintext_sha256: str
    ciphertext_sha256: str
    header_sha256: str
    created_at: str
    """UTC, ISO 8601."""
    signer: str
    """Hex of the Ed25519 public key that signed this manifest."""

    def to_json_bytes(self) -> bytes:
        doc = {"format": MANIFEST_FORMAT, "format_version": MANIFEST_VERSION, **asdict(self)}
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {"format": MANIFEST_FORMAT, "format_version": MANIFEST_VERSION, **asdict(self)}


@dataclass(frozen=True)
class SignedManifest:
    manifest: Manifest
    json_bytes: bytes
    signature: bytes

    def trailer(self) -> bytes:
        return self.json_bytes + self.signature + struct.pack(">I", len(self.json_bytes)) + TRAILER_MAGIC

    def verify(self, verify_key: Ed25519PublicKey, *, source: str) -> None:
        try:
            verify_key.verify(self.signature, SIGNATURE_DOMAIN + self.json_bytes)
        except InvalidSignature:
            raise ManifestSignatureError(
                f"{source}: the manifest signature does not verify under the key's verify key",
                hint="the manifest was edited, or it was signed by a different publisher",
            ) from None


def sign_manifest(manifest: Manifest, signing_key: Ed25519PrivateKey) -> SignedManifest:
    data = manifest.to_json_bytes()
    return SignedManifest(manifest=manifest, json_bytes=data, signature=signing_key.sign(SIGNATURE_DOMAIN + data))


_STR_FIELDS = ("model_id", "model_version", "created_at")
_INT_FIELDS = ("segment_size", "segment_count", "plaintext_size", "ciphertext_size")
_HEX64_FIELDS = ("plaintext_sha256", "ciphertext_sha256", "header_sha256", "signer")


def parse_manifest_json(data: bytes, *, source: str) -> Manifest:
    """Validate every field by type and shape; the error names the field."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrailerError(f"{source}: the manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise TrailerError(f"{source}: the manifest is not a JSON object")
    if doc.get("format") != MANIFEST_FORMAT or doc.get("format_version") != MANIFEST_VERSION:
        raise TrailerError(f"{source}: manifest format/format_version is not {MANIFEST_FORMAT} v{MANIFEST_VERSION}")
    expected = {"format", "format_version", "key_id", *_STR_FIELDS, *_INT_FIELDS, *_HEX64_FIELDS}
    missing = sorted(expected - set(doc))
    if missing:
        raise TrailerError(f"{source}: manifest.{missing[0]}: required field is missing")
    unknown = sorted(set(doc) - expected)
    if unknown:
        raise TrailerError(f"{source}: manifest.{unknown[0]}: unknown field")
    for name in _STR_FIELDS:
        if not isinstance(doc[name], str):
            raise TrailerError(f"{source}: manifest.{name}: expected a string")
    for name in _INT_FIELDS:
        value = doc[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise TrailerError(f"{source}: manifest.{name}: expected a non-negative integer")
    for name in _HEX64_FIELDS:
        if not isinstance(doc[name], str) or not _HEX64.fullmatch(doc[name]):
            raise TrailerError(f"{source}: manifest.{name}: expected 64 lowercase hex digits")
    if not isinstance(doc["key_id"], str) or not _HEX32.fullmatch(doc["key_id"]):
        raise TrailerError(f"{source}: manifest.key_id: expected 32 lowercase hex digits")
    try:
        created = datetime.fromisoformat(doc["created_at"])
    except ValueError:
        raise TrailerError(f"{source}: manifest.created_at: not an ISO 8601 timestamp") from None
    if created.utcoffset() is None:
        raise TrailerError(f"{source}: manifest.created_at: must carry a UTC offset")
    fields = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    return Manifest(**fields)


def parse_trailer(tail: bytes, file_size: int, *, source: str) -> tuple[SignedManifest, int]:
    """Parse a trailer from the last bytes of a file. Returns the manifest and where the trailer starts.

    `tail` must be the last min(file_size, MAX_MANIFEST_BYTES + SIGNATURE_SIZE + FOOTER_SIZE) bytes.
    """
    if len(tail) < FOOTER_SIZE or tail[-len(TRAILER_MAGIC) :] != TRAILER_MAGIC:
        raise TruncatedError(
            f"{source}: no manifest trailer at the end of the file (it ends at byte {file_size}): "
            "the file is truncated or was never finished",
            offset=file_size,
        )
    (length,) = struct.unpack_from(">I", tail, len(tail) - FOOTER_SIZE)
    if not 2 <= length <= MAX_MANIFEST_BYTES:
        raise TrailerError(
            f"{source}: manifest length {length} at byte {file_size - FOOTER_SIZE} is outside 2–{MAX_MANIFEST_BYTES}"
        )
    trailer_size = length + SIGNATURE_SIZE + FOOTER_SIZE
    if trailer_size > len(tail):
        raise TrailerError(
            f"{source}: manifest length {length} at byte {file_size - FOOTER_SIZE} is larger than the file"
        )
    start = len(tail) - trailer_size
    json_bytes = bytes(tail[start : start + length])
    signature = bytes(tail[start + length : start + length + SIGNATURE_SIZE])
    manifest = parse_manifest_json(json_bytes, source=source)
    return SignedManifest(manifest=manifest, json_bytes=json_bytes, signature=signature), file_size - trailer_size


MAX_TRAILER_SIZE = MAX_MANIFEST_BYTES + SIGNATURE_SIZE + FOOTER_SIZE

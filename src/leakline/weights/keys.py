"""Key files for encrypted weights: one AES-256 key-encryption key plus an Ed25519 manifest key pair.

A key file is a small JSON document, created with mode 0600 and refused when group or others can read
it. A publisher's key file holds the signing key; a receiving site may hold a copy without it
(`signing_key` omitted): it can decrypt and verify, but not sign new manifests. The key id stored in
every encrypted header is derived from the key-encryption key, so a wrong key is reported as such
instead of as damage. Key material is never printed: the dataclass hides it from `repr`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from leakline.audit.keys import read_private_file
from leakline.weights.errors import KeyFileError
from leakline.weights.format import KEY_SIZE, derive_key_id

KEYFILE_FORMAT = "leakline-weights-key"
KEYFILE_VERSION = 1
KEYFILE_MODE = 0o600
ED25519_KEY_SIZE = 32
MAX_KEYFILE_BYTES = 4096


@dataclass(frozen=True)
class WeightsKey:
    """Key material of one key file. `signing_key` is None in a receiving site's copy."""

    key_id: bytes
    kek: bytes = field(repr=False)
    verify_key: Ed25519PublicKey = field(repr=False)
    signing_key: Ed25519PrivateKey | None = field(default=None, repr=False)

    @property
    def verify_key_bytes(self) -> bytes:
        return self.verify_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def without_signing_key(self) -> WeightsKey:
        return WeightsKey(key_id=self.key_id, kek=self.kek, verify_key=self.verify_key)


def generate_key() -> WeightsKey:
    kek = os.urandom(KEY_SIZE)
    signing = Ed25519PrivateKey.generate()
    return WeightsKey(key_id=derive_key_id(kek), kek=kek, verify_key=signing.public_key(), signing_key=signing)


def key_from_material(kek: bytes, signing_seed: bytes | None, verify_key: bytes | None = None) -> WeightsKey:
    """Build a key from raw bytes (known-answer tests, key files). Lengths are checked by the caller."""
    signing = Ed25519PrivateKey.from_private_bytes(signing_seed) if signing_seed is not None else None
    if signing is not None:
        public = signing.public_key()
    elif verify_key is not None:
        public = Ed25519PublicKey.from_public_bytes(verify_key)
    else:
        raise KeyFileError("a key needs a signing key or a verify key")
    return WeightsKey(key_id=derive_key_id(kek), kek=kek, verify_key=public, signing_key=signing)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def keyfile_document(key: WeightsKey) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": KEYFILE_FORMAT,
        "version": KEYFILE_VERSION,
        "key_id": key.key_id.hex(),
        "kek": _b64(key.kek),
        "verify_key": _b64(key.verify_key_bytes),
    }
    if key.signing_key is not None:
        doc["signing_key"] = _b64(key.signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    return doc


def write_keyfile(path: Path, key: WeightsKey) -> None:
    """Create `path` with mode 0600; never overwrite an existing key (that would orphan encrypted files)."""
    data = (json.dumps(keyfile_document(key), indent=2) + "\n").encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEYFILE_MODE)
    except FileExistsError:
        raise KeyFileError(
            f"{path}: already exists; refusing to overwrite a key",
            hint="files encrypted under the old key could no longer be decrypted; choose another path",
        ) from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create: {exc.strerror}") from None
    try:
        os.fchmod(fd, KEYFILE_MODE)  # the umask may have removed bits; never added any
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _field_bytes(doc: dict[str, Any], name: str, size: int, *, path: Path) -> bytes:
    value = doc.get(name)
    if not isinstance(value, str):
        raise KeyFileError(f"{path}: {name}: expected a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{path}: {name}: not valid base64") from None
    if len(raw) != size:
        raise KeyFileError(f"{path}: {name}: expected {size} bytes, got {len(raw)}")
    return raw


def parse_keyfile(data: bytes, *, path: Path) -> WeightsKey:
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"{path}: not valid UTF-8 at byte offset {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise KeyFileError(f"{path}: not valid JSON at byte offset {exc.pos}: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("format") != KEYFILE_FORMAT:
        raise KeyFileError(f"{path}: format: expected {KEYFILE_FORMAT!r}", hint="is this a weights key file?")
    if doc.get("version") != KEYFILE_VERSION:
        raise KeyFileError(f"{path}: version: expected {KEYFILE_VERSION}, got {doc.get('version')!r}")
    unknown = sorted(set(doc) - {"format", "version", "key_id", "kek", "verify_key", "signing_key"})
    if unknown:
        raise KeyFileError(f"{path}: {unknown[0]}: unknown key")
    kek = _field_bytes(doc, "kek", KEY_SIZE, path=path)
    verify = _field_bytes(doc, "verify_key", ED25519_KEY_SIZE, path=path)
    seed = _field_bytes(doc, "signing_key", ED25519_KEY_SIZE, path=path) if "signing_key" in doc else None
    key = key_from_material(kek, seed, verify)
    if key.verify_key_bytes != verify:
        raise KeyFileError(f"{path}: verify_key does not belong to signing_key")
    if doc.get("key_id") != key.key_id.hex():
        raise KeyFileError(f"{path}: key_id does not match kek (the file was edited)")
    return key


def load_keyfile(path: Path) -> WeightsKey:
    """Read a key file, refusing one that group or others can access."""
    data = read_private_file(
        path,
        error=KeyFileError,
        missing_hint="create one with `leakline weights keygen`",
        holds="a weights key file",
        max_bytes=MAX_KEYFILE_BYTES,
    )
    return parse_keyfile(data, path=path)

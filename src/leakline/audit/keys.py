"""Keys of the audit log: the key file, the wrapped data key, per-epoch keys and checkpoint signing.

Three layers. A *key-encryption key* (KEK) lives outside the log (a key file, the LEAKLINE_AUDIT_KEY
environment variable, or, through `KeyWrapper`/`KeyUnwrapper`, a KMS). It wraps the log's random
*data keys* (`DataKeys`, stored in the log directory as datakey.json): the one the log was created with,
and one more per rotation, each used from its first epoch on. Rotating the KEK adds a data key for the
epochs after it and re-wraps the older ones, so old records stay readable with the new KEK and the old KEK
opens no later record. Each writer *epoch* encrypts under its own key derived from its data key with
HKDF-SHA256 (salt: log id, info: epoch number), which is what makes the
deterministic per-epoch nonce counters safe. Checkpoints are signed with Ed25519 through
`CheckpointSigner`. Key material never appears in messages; keys are shown by their id only. A key
file must be a regular file that only its owner can access (`read_private_file`, which the weights
key files share), and is written with mode 0600 (`write_private_file`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import shlex
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from leakline.audit.errors import DataKeyDamaged, KeyFileError, KeyMismatch
from leakline.audit.format import NONCE_SIZE, PUBLIC_KEY_SIZE
from leakline.errors import LeaklineError

KEY_ENV_VAR = "LEAKLINE_AUDIT_KEY"
KEY_FILE_FORMAT = "leakline-audit-key"
DATAKEY_FILE_FORMAT = "leakline-audit-datakey"
DATAKEY_FILE_VERSION_1 = 1
"""One data key, as a log is created: {"wrapped": …}."""
DATAKEY_FILE_VERSION_2 = 2
"""After a rotation: {"data_keys": [{"first_epoch": …, "wrapped": …}, …]}."""
KEY_FILE_VERSION = 1
KEY_SIZE = 32
KEY_FILE_MODE = 0o600
MAX_KEY_FILE_BYTES = 4096
_UNSAFE_MODE_BITS = stat.S_IRWXG | stat.S_IRWXO

_EPOCH_KEY_INFO = b"leakline-audit v1 epoch key"
_KEY_CHECK_INFO = b"leakline-audit v1 key check"
_KEK_ID_CONTEXT = b"leakline-audit v1 kek id\x00"
_WRAP_AD_CONTEXT = b"leakline-audit v1 data key\x00"


def kek_id(kek: bytes) -> str:
    """A public name for a KEK (a hash prefix), safe to print and store."""
    return hashlib.sha256(_KEK_ID_CONTEXT + kek).hexdigest()[:16]


def public_key_fingerprint(public_key: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(public_key).digest()).decode("ascii").rstrip("=")


class KeyWrapper(ABC):
    """Seals a data key under a key-encryption key (a local key, or a KMS's Encrypt call)."""

    key_id: str

    @abstractmethod
    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """Return an opaque blob; `context` must be given again to unwrap it."""


class KeyUnwrapper(ABC):
    """Opens a data key sealed by the matching `KeyWrapper` (a local key, or a KMS's Decrypt call)."""

    key_id: str

    @abstractmethod
    def unwrap(self, blob: bytes, context: bytes) -> bytes:
        """Return the data key; raise `KeyMismatch` if the blob was not sealed by this key."""


class CheckpointSigner(ABC):
    """Signs checkpoints (an Ed25519 key here, or a KMS asymmetric signing key)."""

    public_key: bytes

    @abstractmethod
    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature over `message`."""


class LocalKeyEncryptionKey(KeyWrapper, KeyUnwrapper):
    """A 256-bit AES-GCM key-encryption key held in memory."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_SIZE:
            raise KeyFileError(f"a key-encryption key has {KEY_SIZE} bytes, got {len(kek)}")
        self._aead = AESGCM(kek)
        self.key_id = kek_id(kek)

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        # Wrapping happens once per log and per rotation, so a random nonce cannot repeat in practice.
        nonce = secrets.token_bytes(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, data_key, _WRAP_AD_CONTEXT + context)

    def unwrap(self, blob: bytes, context: bytes) -> bytes:
        nonce, sealed = blob[:NONCE_SIZE], blob[NONCE_SIZE:]
        try:
            if len(nonce) < NONCE_SIZE:  # AESGCM would raise ValueError on the short nonce
                raise InvalidTag
            return self._aead.decrypt(nonce, sealed, _WRAP_AD_CONTEXT + context)
        except InvalidTag:
            raise KeyMismatch(
                f"key-encryption key {self.key_id} cannot unwrap this log's data key",
                hint="use the key file this log was created or last rotated with",
            ) from None


class Ed25519Signer(CheckpointSigner):
    def __init__(self, seed: bytes) -> None:
        if len(seed) != KEY_SIZE:
            raise KeyFileError(f"an Ed25519 signing key has {KEY_SIZE} bytes, got {len(seed)}")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def signature_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if len(public_key) != PUBLIC_KEY_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class AuditKeys:
    """What a writer needs: a way to (un)wrap the data key and a checkpoint signer."""

    wrapper: KeyWrapper
    unwrapper: KeyUnwrapper
    signer: CheckpointSigner
    source: str
    """Where the keys came from (a path or the environment variable's name), for messages."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, field: str, source: str) -> bytes:
    if not isinstance(value, str):
        raise KeyFileError(f"{source}: field {field!r}: expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise KeyFileError(f"{source}: field {field!r}: not valid base64") from None


def new_key_material() -> dict[str, Any]:
    return {
        "format": KEY_FILE_FORMAT,
        "version": KEY_FILE_VERSION,
        "kek": _b64(secrets.token_bytes(KEY_SIZE)),
        "signing_key": _b64(secrets.token_bytes(KEY_SIZE)),
    }


def write_private_file(
    path: Path, data: bytes, *, exclusive: bool = True, holds: str = "a key", hint: str | None = None
) -> None:
    """Create `path` with mode 0600 from the first byte on (no window where others could read it).

    `holds` names what an existing file at `path` is taken to be, for the refusal message.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(path, flags, KEY_FILE_MODE)
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite {holds}", hint=hint) from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create: {exc.strerror}") from None
    try:
        os.fchmod(fd, KEY_FILE_MODE)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def generate_key_file(path: Path) -> AuditKeys:
    """Write a new key file (KEK + Ed25519 signing key, mode 0600); refuse to overwrite one."""
    material = new_key_material()
    write_private_file(path, (json.dumps(material, indent=2) + "\n").encode("utf-8"))
    return parse_keys(material, source=str(path))


def parse_keys(material: object, *, source: str) -> AuditKeys:
    if not isinstance(material, dict):
        raise KeyFileError(f"{source}: expected a JSON object")
    if material.get("format") != KEY_FILE_FORMAT:
        raise KeyFileError(f"{source}: field 'format': expected {KEY_FILE_FORMAT!r}")
    if material.get("version") != KEY_FILE_VERSION:
        raise KeyFileError(f"{source}: field 'version': expected {KEY_FILE_VERSION}")
    unknown = sorted(set(material) - {"format", "version", "kek", "signing_key"})
    if unknown:
        raise KeyFileError(f"{source}: unknown field {unknown[0]!r}")
    kek = LocalKeyEncryptionKey(_unb64(material.get("kek"), "kek", source))
    signer = Ed25519Signer(_unb64(material.get("signing_key"), "signing_key", source))
    return AuditKeys(wrapper=kek, unwrapper=kek, signer=signer, source=source)


def _parse_key_text(text: bytes, source: str) -> AuditKeys:
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"{source}: not valid UTF-8 at byte offset {exc.start}") from None
    try:
        material = json.loads(decoded)
    except json.JSONDecodeError as exc:
        offset = len(decoded[: exc.pos].encode("utf-8"))
        raise KeyFileError(f"{source}: not valid JSON at byte offset {offset}: {exc.msg}") from None
    return parse_keys(material, source=source)


def read_private_file(
    path: Path, *, error: type[LeaklineError], missing_hint: str, holds: str, max_bytes: int = MAX_KEY_FILE_BYTES
) -> bytes:
    """The bytes of a key file, refused (as `error`) unless it is a regular file only its owner can access.

    The mode is read from the opened file, not from the path, so a file swapped in between the check and
    the read cannot slip through. `holds` names what the file should be, for the size refusal."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise error(f"{path}: no such key file", hint=missing_hint) from None
    except OSError as exc:
        raise error(f"{path}: cannot open: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: not a regular file")
        if info.st_mode & _UNSAFE_MODE_BITS:
            raise error(
                f"{path}: mode {stat.S_IMODE(info.st_mode):04o} lets others read the key; it must be 0600",
                hint=f"chmod 600 {shlex.quote(str(path))}",
            )
        data = os.read(fd, max_bytes + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise error(f"{path}: larger than {max_bytes} bytes; not {holds}")
    return data


def load_key_file(path: Path) -> AuditKeys:
    raw = read_private_file(
        path,
        error=KeyFileError,
        missing_hint="create one with `leakline audit keygen KEYFILE`",
        holds="an audit key file",
    )
    return _parse_key_text(raw, str(path))


def load_keys(path: Path | None) -> AuditKeys:
    """Keys from `path`, else from the LEAKLINE_AUDIT_KEY variable (the key file's JSON text)."""
    if path is not None:
        return load_key_file(path)
    text = os.environ.get(KEY_ENV_VAR)
    if not text:
        raise KeyFileError(
            f"no key given: pass --key KEYFILE or set {KEY_ENV_VAR}",
            hint="create a key with `leakline audit keygen KEYFILE`",
        )
    return _parse_key_text(text.encode("utf-8"), f"${KEY_ENV_VAR}")


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_SIZE)


def _hkdf(data_key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(data_key)


def epoch_key(data_key: bytes, log_id: bytes, epoch: int) -> bytes:
    return _hkdf(data_key, log_id, _EPOCH_KEY_INFO + epoch.to_bytes(4, "big"))


def key_check_value(data_key: bytes, log_id: bytes) -> bytes:
    """Stored in the header so that a wrong data key is reported as such, not as tampering."""
    return _hkdf(data_key, log_id, _KEY_CHECK_INFO)


@dataclass(frozen=True)
class DataKeys:
    """A log's data keys: the one it was created with, and one more per `rotate-key`.

    Each is used by the epochs from its `first_epoch` on, up to the next one's. Keys are never shown in repr.
    """

    entries: tuple[tuple[int, bytes], ...] = field(repr=False)
    """(first epoch, data key), by first epoch; the first entry's first epoch is 0."""

    @classmethod
    def single(cls, data_key: bytes) -> DataKeys:
        return cls(((0, data_key),))

    @property
    def first(self) -> bytes:
        """The data key the log was created with (the header's key check value is computed from it)."""
        return self.entries[0][1]

    @property
    def latest(self) -> tuple[int, bytes]:
        return self.entries[-1]

    @property
    def first_epochs(self) -> tuple[int, ...]:
        return tuple(first for first, _ in self.entries)

    def for_epoch(self, epoch: int) -> bytes:
        for first, data_key in reversed(self.entries):
            if first <= epoch:
                return data_key
        raise ValueError(f"epoch {epoch} precedes the first data key")

    def with_new_key(self, first_epoch: int, data_key: bytes) -> DataKeys:
        if first_epoch <= self.latest[0]:
            raise ValueError(f"a new data key must start after epoch {self.latest[0]}, not at {first_epoch}")
        return DataKeys((*self.entries, (first_epoch, data_key)))


def _wrap_context(log_id: bytes, key_id: str, first_epoch: int | None) -> bytes:
    # Version 1 (one data key) binds the log and the KEK; version 2 also binds each key's first epoch, so
    # entries cannot be swapped or moved to other epochs.
    context = log_id + key_id.encode("ascii")
    return context if first_epoch is None else context + first_epoch.to_bytes(4, "big")


def encode_data_keys(log_id: bytes, wrapper: KeyWrapper, keys: DataKeys) -> bytes:
    """datakey.json: version 1 while the log has one data key (as created), version 2 after a rotation."""
    document: dict[str, Any] = {
        "format": DATAKEY_FILE_FORMAT,
        "version": DATAKEY_FILE_VERSION_1 if len(keys.entries) == 1 else DATAKEY_FILE_VERSION_2,
        "log_id": log_id.hex(),
        "kek_id": wrapper.key_id,
    }
    if len(keys.entries) == 1:
        document["wrapped"] = _b64(wrapper.wrap(keys.first, _wrap_context(log_id, wrapper.key_id, None)))
    else:
        document["data_keys"] = [
            {"first_epoch": first, "wrapped": _b64(wrapper.wrap(key, _wrap_context(log_id, wrapper.key_id, first)))}
            for first, key in keys.entries
        ]
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _unwrap_entry(
    unwrapper: KeyUnwrapper, blob: bytes, context: bytes, *, field_name: str, source: str
) -> bytes:
    try:
        return unwrapper.unwrap(blob, context)
    except KeyMismatch:
        # The file names this very key (kek_id is a hash of it), so the key is right and the file is not.
        raise DataKeyDamaged(
            f"field {field_name!r} does not unwrap under key-encryption key {unwrapper.key_id}, the key given and "
            "the one the file names",
            file=source,
            hint="restore datakey.json from a backup of this log directory (one made after its last rotate-key); "
            "`leakline audit verify DIR` without --key still checks the log's integrity",
        ) from None


def decode_data_keys(raw: bytes, log_id: bytes, unwrapper: KeyUnwrapper, *, source: str) -> DataKeys:
    """Read datakey.json (version 1 or 2) and unwrap every data key in it."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError(f"{source}: not a wrapped data key (invalid JSON)") from None
    if not isinstance(document, dict) or document.get("format") != DATAKEY_FILE_FORMAT:
        raise KeyFileError(f"{source}: field 'format': expected {DATAKEY_FILE_FORMAT!r}")
    version = document.get("version")
    if version not in (DATAKEY_FILE_VERSION_1, DATAKEY_FILE_VERSION_2):
        raise KeyFileError(
            f"{source}: field 'version': {version!r} is not a data key file version this leakline reads (1 or 2)"
        )
    if document.get("log_id") != log_id.hex():
        raise KeyFileError(f"{source}: field 'log_id': belongs to another log")
    stored_kek_id = document.get("kek_id")
    if stored_kek_id != unwrapper.key_id:
        raise KeyMismatch(
            f"{source}: the data key is wrapped under key-encryption key {stored_kek_id}, "
            f"but the key given is {unwrapper.key_id}",
            hint="use the key file this log was created or last rotated with",
        )
    if version == DATAKEY_FILE_VERSION_1:
        blob = _unb64(document.get("wrapped"), "wrapped", source)
        context = _wrap_context(log_id, unwrapper.key_id, None)
        return DataKeys.single(_unwrap_entry(unwrapper, blob, context, field_name="wrapped", source=source))
    listed = document.get("data_keys")
    if not isinstance(listed, list) or not listed:
        raise KeyFileError(f"{source}: field 'data_keys': expected a non-empty list")
    entries: list[tuple[int, bytes]] = []
    for index, entry in enumerate(listed):
        where = f"data_keys.{index}"
        first = entry.get("first_epoch") if isinstance(entry, dict) else None
        previous = entries[-1][0] if entries else -1
        if not isinstance(first, int) or isinstance(first, bool) or first > 0xFFFFFFFF:
            raise KeyFileError(f"{source}: field '{where}.first_epoch': expected an epoch number")
        if (index == 0 and first != 0) or (index > 0 and first <= previous):
            raise KeyFileError(
                f"{source}: field '{where}.first_epoch': {first} does not follow {previous} "
                "(the first data key starts at epoch 0, each next one later)"
            )
        blob = _unb64(entry.get("wrapped"), f"{where}.wrapped", source)
        context = _wrap_context(log_id, unwrapper.key_id, first)
        entries.append((first, _unwrap_entry(unwrapper, blob, context, field_name=f"{where}.wrapped", source=source)))
    return DataKeys(tuple(entries))

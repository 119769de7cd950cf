"""Streaming encrypt, decrypt, verify and inspect of weights containers, and random-access reads.

Everything here works in constant memory over files of many gigabytes: one segment (1 MiB) at a time,
with the SHA-256 digests fed to a worker thread so that hashing overlaps the AES-GCM pass (hashlib
releases the GIL; the AEAD does not). `decrypt_file` writes to a temporary file beside the destination
and renames it only when every segment, the header, the signed manifest and both digests check out, so
unauthenticated plaintext is never left behind. `EncryptedWeightsReader` is a seekable, read-only file
object that decrypts only the segments a read touches, for loaders that want random access.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import io
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

from leakline.weights.errors import (
    KeyFileError,
    ManifestMismatchError,
    OutputError,
    TruncatedError,
    WeightsUsageError,
)
from leakline.weights.format import (
    DEFAULT_SEGMENT_SIZE,
    KEY_SIZE,
    MAX_HEADER_SIZE,
    MAX_SEGMENT_SIZE,
    MAX_SEGMENTS,
    MIN_SEGMENT_SIZE,
    NONCE_PREFIX_SIZE,
    SALT_SIZE,
    TAG_SIZE,
    Header,
    Layout,
    SegmentCipher,
    build_header,
    derive_segment_key,
    make_layout,
    parse_header,
    unlock_header,
    validate_name,
    wrap_data_key,
)
from leakline.weights.keys import WeightsKey
from leakline.weights.manifest import (
    MAX_TRAILER_SIZE,
    Manifest,
    SignedManifest,
    parse_trailer,
    sign_manifest,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes just processed (for progress bars)."""

_DIGEST_QUEUE_DEPTH = 4
"""Segments in flight per digest thread; bounds memory at a few MiB."""


class BackgroundSha256:
    """A SHA-256 fed from a worker thread, so hashing runs beside AES-GCM (or TLS reads) on another core.

    Buffers handed to `update` must not change until hashed: pass immutable bytes, or ring-buffer views.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=_DIGEST_QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, name="weights-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._hash.update(item)

    def update(self, data: bytes | memoryview) -> None:
        self._queue.put(data)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()


@contextlib.contextmanager
def _digests(count: int) -> Iterator[list[BackgroundSha256]]:
    digests = [BackgroundSha256() for _ in range(count)]
    try:
        yield digests
    finally:
        for digest in digests:
            digest.close()


_RING_SLOTS = _DIGEST_QUEUE_DEPTH + 3
"""Buffers reused round-robin. A digest thread may still hash a buffer handed over up to depth+1 segments
ago, and encryption reads one segment ahead, so depth+3 slots are never overwritten while in use."""


class _Ring:
    """Preallocated segment buffers: allocating 1 MiB per segment costs more than AES-GCM itself."""

    def __init__(self, size: int) -> None:
        self._slots = [bytearray(size) for _ in range(_RING_SLOTS)]
        self._next = 0

    def take(self, length: int) -> memoryview:
        slot = self._slots[self._next]
        self._next = (self._next + 1) % len(self._slots)
        return memoryview(slot)[:length]


class _ReadsInto(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def _read_into(f: BinaryIO, view: memoryview) -> memoryview:
    """Fill `view` unless EOF comes first (pipes return short reads); return the filled part."""
    reader = cast(_ReadsInto, f)  # every binary file object has readinto; typing.BinaryIO omits it
    have = 0
    while have < len(view):
        got = reader.readinto(view[have:])
        if not got:
            break
        have += got
    return view[:have]


def _write_all(f: BinaryIO, view: memoryview) -> None:
    """Unbuffered files may write less than asked."""
    done = 0
    while done < len(view):
        wrote = f.write(view[done:])
        if wrote is None:  # a non-blocking stream that is full; ours never are
            raise OSError("output would block")
        done += wrote


def _read_full(f: BinaryIO, size: int) -> bytes:
    """Read exactly `size` bytes unless EOF comes first (pipes return short reads)."""
    data = f.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    have = len(data)
    while have < size:
        more = f.read(size - have)
        if not more:
            break
        parts.append(more)
        have += len(more)
    return b"".join(parts)


@dataclass(frozen=True)
class SealMaterial:
    """The random values of one encryption. Fixed only in known-answer tests."""

    data_key: bytes
    salt: bytes
    nonce_prefix: bytes

    @classmethod
    def random(cls) -> SealMaterial:
        return cls(os.urandom(KEY_SIZE), os.urandom(SALT_SIZE), os.urandom(NONCE_PREFIX_SIZE))


@dataclass(frozen=True)
class Pins:
    """What the caller expects the file to be; a mismatch means an old or foreign file was swapped in."""

    model_id: str | None = None
    model_version: str | None = None


def encrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    key: WeightsKey,
    *,
    model_id: str,
    model_version: str = "",
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    on_progress: ProgressCallback | None = None,
    material: SealMaterial | None = None,
    created_at: datetime | None = None,
) -> SignedManifest:
    """Encrypt `src` into `dst` (header, segments, signed manifest trailer); return the manifest."""
    validate_name(model_id, field="model id", allow_empty=False)
    validate_name(model_version, field="model version", allow_empty=True)
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise WeightsUsageError(f"segment size {segment_size} is outside {MIN_SEGMENT_SIZE}–{MAX_SEGMENT_SIZE}")
    if key.signing_key is None:
        raise KeyFileError(
            "this key file has no signing key, so it cannot sign the manifest of a new file",
            hint="encrypt with the publisher's key file (the one `leakline weights keygen` wrote)",
        )
    material = material or SealMaterial.random()
    header = build_header(
        segment_size=segment_size,
        key_id=key.key_id,
        wrapped_key=wrap_data_key(key.kek, material.data_key),
        salt=material.salt,
        nonce_prefix=material.nonce_prefix,
        model_id=model_id,
        model_version=model_version,
        data_key=material.data_key,
    )
    cipher = SegmentCipher(
        derive_segment_key(material.data_key, material.salt, header.associated_data), material.nonce_prefix
    )
    _write_all(dst, memoryview(header.raw))
    plaintext_size = 0
    body_size = 0
    index = 0
    plain_ring = _Ring(segment_size)
    sealed_ring = _Ring(segment_size + TAG_SIZE)
    with _digests(2) as (pt_digest, ct_digest):
        ct_digest.update(header.raw)
        current = _read_into(src, plain_ring.take(segment_size))
        while True:
            full = len(current) == segment_size
            following = _read_into(src, plain_ring.take(segment_size)) if full else memoryview(b"")
            last = not following
            if index >= MAX_SEGMENTS:
                raise WeightsUsageError(f"the input is larger than {MAX_SEGMENTS} segments of {segment_size} bytes")
            sealed = sealed_ring.take(len(current) + TAG_SIZE)
            cipher.seal_into(index, current, last, sealed)
            pt_digest.update(current)
            ct_digest.update(sealed)
            _write_all(dst, sealed)
            plaintext_size += len(current)
            body_size += len(sealed)
            index += 1
            if on_progress is not None:
                on_progress(len(current))
            if last:
                break
            current = following
        plaintext_sha256 = pt_digest.hexdigest()
        ciphertext_sha256 = ct_digest.hexdigest()
    stamp = (created_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    manifest = Manifest(
        model_id=model_id,
        model_version=model_version,
        key_id=key.key_id.hex(),
        segment_size=segment_size,
        segment_count=index,
        plaintext_size=plaintext_size,
        ciphertext_size=header.length + body_size,
        plaintext_sha256=plaintext_sha256,
        ciphertext_sha256=ciphertext_sha256,
        header_sha256=hashlib.sha256(header.raw).hexdigest(),
        created_at=stamp,
        signer=key.verify_key_bytes.hex(),
    )
    signed = sign_manifest(manifest, key.signing_key)
    _write_all(dst, memoryview(signed.trailer()))
    return signed


# --- opening ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerStructure:
    """What can be read without a key: the header, the manifest trailer and the segment layout."""

    source: str
    header: Header
    signed: SignedManifest
    layout: Layout


def read_header(f: BinaryIO, size: int, *, source: str) -> Header:
    f.seek(0)
    return parse_header(f.read(min(size, MAX_HEADER_SIZE)), source=source)


def read_trailer(f: BinaryIO, size: int, header: Header, *, source: str) -> ContainerStructure:
    tail_size = min(size - header.length, MAX_TRAILER_SIZE)
    f.seek(size - tail_size)
    signed, trailer_start = parse_trailer(f.read(tail_size), size, source=source)
    layout = make_layout(header.length, header.segment_size, trailer_start - header.length, source=source)
    return ContainerStructure(source=source, header=header, signed=signed, layout=layout)


def read_structure(f: BinaryIO, size: int, *, source: str) -> ContainerStructure:
    """Header, trailer and layout, without a key (inspect, serve)."""
    return read_trailer(f, size, read_header(f, size, source=source), source=source)


def _mismatch(source: str, field: str, in_manifest: object, actual: object, what: str) -> ManifestMismatchError:
    return ManifestMismatchError(
        f"{source}: manifest {field} is {in_manifest!r} but {what} is {actual!r}", field=field
    )


def check_manifest_against_structure(structure: ContainerStructure) -> None:
    """The signed manifest must describe exactly this header and this layout."""
    m = structure.signed.manifest
    h = structure.header
    lay = structure.layout
    src = structure.source
    checks: list[tuple[str, object, object, str]] = [
        ("model_id", m.model_id, h.model_id, "the header's"),
        ("model_version", m.model_version, h.model_version, "the header's"),
        ("key_id", m.key_id, h.key_id.hex(), "the header's"),
        ("segment_size", m.segment_size, h.segment_size, "the header's"),
        ("header_sha256", m.header_sha256, hashlib.sha256(h.raw).hexdigest(), "the header's"),
        ("ciphertext_size", m.ciphertext_size, lay.ciphertext_size, "the file's"),
        ("segment_count", m.segment_count, lay.count, "the file's"),
        ("plaintext_size", m.plaintext_size, lay.plaintext_size, "the file's"),
    ]
    for field, in_manifest, actual, whose in checks:
        if in_manifest != actual:
            raise _mismatch(src, field, in_manifest, actual, f"{whose} {field}")


def check_pins(manifest: Manifest, pins: Pins | None, *, source: str) -> None:
    if pins is None:
        return
    if pins.model_id is not None and pins.model_id != manifest.model_id:
        raise ManifestMismatchError(
            f"{source}: holds model {manifest.model_id!r}, but {pins.model_id!r} was expected", field="model_id"
        )
    if pins.model_version is not None and pins.model_version != manifest.model_version:
        raise ManifestMismatchError(
            f"{source}: holds version {manifest.model_version!r} of {manifest.model_id!r}, but version "
            f"{pins.model_version!r} was expected",
            field="model_version",
            hint="an older (or newer) validly signed file may have been put in its place",
        )


@dataclass(frozen=True)
class OpenedContainer:
    structure: ContainerStructure
    cipher: SegmentCipher

    @property
    def manifest(self) -> Manifest:
        return self.structure.signed.manifest

    @property
    def layout(self) -> Layout:
        return self.structure.layout


def open_container(
    f: BinaryIO, size: int, key: WeightsKey, *, source: str, pins: Pins | None = None
) -> OpenedContainer:
    """Parse, unlock and authenticate everything but the segments themselves."""
    # The header is authenticated before the trailer and layout are read, so that an edited header field
    # (e.g. the segment size) is reported as a header edit rather than as a layout problem.
    header = read_header(f, size, source=source)
    segment_key = unlock_header(header, key.kek, key.key_id, source=source)
    structure = read_trailer(f, size, header, source=source)
    structure.signed.verify(key.verify_key, source=source)
    check_manifest_against_structure(structure)
    check_pins(structure.signed.manifest, pins, source=source)
    return OpenedContainer(
        structure=structure, cipher=SegmentCipher(segment_key, structure.header.nonce_prefix, source=source)
    )


def decrypt_stream(
    f: BinaryIO,
    size: int,
    out: BinaryIO | None,
    key: WeightsKey,
    *,
    source: str,
    pins: Pins | None = None,
    check_plaintext_digest: bool = False,
    on_progress: ProgressCallback | None = None,
) -> Manifest:
    """Authenticate every segment in order, writing plaintext to `out`; check the manifest's digests.

    Each segment is authenticated before its plaintext is written. The ciphertext SHA-256 is always
    checked (it pins the exact file the publisher signed); `verify` also checks the plaintext SHA-256.
    """
    opened = open_container(f, size, key, source=source, pins=pins)
    layout = opened.layout
    manifest = opened.manifest
    f.seek(layout.header_length)
    count = layout.count
    sealed_ring = _Ring(layout.ct_segment_size)
    plain_ring = _Ring(layout.segment_size)
    with _digests(2 if check_plaintext_digest else 1) as digests:
        ct_digest = digests[0]
        ct_digest.update(opened.structure.header.raw)
        for index in range(count):
            length = layout.segment_ct_length(index)
            offset = layout.segment_offset(index)
            sealed = _read_into(f, sealed_ring.take(length))
            if len(sealed) != length:
                raise TruncatedError(
                    f"{source}: file ends at byte {offset + len(sealed)}, inside segment {index} "
                    "(it changed while being read)",
                    offset=offset + len(sealed),
                )
            plain = plain_ring.take(length - TAG_SIZE)
            opened.cipher.open_into(index, sealed, index == count - 1, plain, offset=offset, count=count)
            ct_digest.update(sealed)
            if check_plaintext_digest:
                digests[1].update(plain)
            if out is not None:
                _write_all(out, plain)
            if on_progress is not None:
                on_progress(len(plain))
        ct_hex = ct_digest.hexdigest()
        pt_hex = digests[1].hexdigest() if check_plaintext_digest else manifest.plaintext_sha256
    if not hmac.compare_digest(ct_hex, manifest.ciphertext_sha256):
        raise ManifestMismatchError(
            f"{source}: ciphertext SHA-256 {ct_hex} differs from the signed manifest's "
            f"{manifest.ciphertext_sha256}",
            field="ciphertext_sha256",
        )
    if not hmac.compare_digest(pt_hex, manifest.plaintext_sha256):
        raise ManifestMismatchError(
            f"{source}: plaintext SHA-256 {pt_hex} differs from the signed manifest's {manifest.plaintext_sha256}",
            field="plaintext_sha256",
        )
    return manifest


# --- files -------------------------------------------------------------------------------------------------


def _open_source(path: Path) -> tuple[BinaryIO, int]:
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise WeightsUsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WeightsUsageError(f"{path}: is a directory") from None
    except OSError as exc:
        raise WeightsUsageError(f"{path}: cannot open: {exc.strerror}") from None
    return f, os.fstat(f.fileno()).st_size


def _check_destination(src: Path, dst: Path, *, force: bool) -> None:
    # --force replaces a file; the rename onto a directory would fail only after the whole pass.
    if dst.is_dir():
        raise WeightsUsageError(f"{dst}: is a directory", hint="give the path of the file to write")
    if dst.exists() and not force:
        raise WeightsUsageError(f"{dst}: already exists", hint="choose another path or pass --force")
    if dst.exists() and dst.resolve() == src.resolve():
        raise WeightsUsageError(f"{dst}: is the same file as the source")
    check_parent_directory(dst)


def check_parent_directory(dst: Path) -> None:
    """Before a long pass: the folder DST goes into must be one (`somefile/x.bin` cannot be written)."""
    if dst.parent.exists() and not dst.parent.is_dir():
        raise OutputError(f"{dst}: {os.strerror(errno.ENOTDIR)}", hint=f"{dst.parent} is a file")
    if not dst.parent.is_dir():
        raise WeightsUsageError(f"{dst.parent}: no such directory")


class _Output(io.FileIO):
    """The temporary output file; a failed write (no space left, I/O error) names the destination."""

    def __init__(self, fd: int, dst: Path) -> None:
        super().__init__(fd, "wb", closefd=True)
        self._dst = dst

    def write(self, data: ReadableBuffer, /) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise OutputError.of(self._dst, exc) from None


@contextlib.contextmanager
def atomic_output(dst: Path, *, mode: int = 0o600) -> Iterator[BinaryIO]:
    """A temporary file beside `dst`, renamed onto it only if the block completes; deleted otherwise.

    Failures of the output itself (cannot create, write, sync or rename it: a read-only or full file system,
    a path in /proc) become an `OutputError` naming `dst`, never the temporary name.
    """
    try:
        fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".partial")
    except OSError as exc:
        raise OutputError.of(dst, exc) from None
    tmp = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, mode)
        except OSError as exc:
            os.close(fd)
            raise OutputError.of(dst, exc) from None
        with _Output(fd, dst) as raw:
            yield cast(BinaryIO, raw)
            try:
                os.fsync(raw.fileno())
            except OSError as exc:
                raise OutputError.of(dst, exc) from None
        try:
            tmp.replace(dst)
        except OSError as exc:
            raise OutputError.of(dst, exc) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def encrypt_file(
    src: Path,
    dst: Path,
    key: WeightsKey,
    *,
    model_id: str,
    model_version: str = "",
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    force: bool = False,
    on_progress: ProgressCallback | None = None,
) -> SignedManifest:
    _check_destination(src, dst, force=force)
    f, _size = _open_source(src)
    with f, atomic_output(dst, mode=0o644) as out:
        return encrypt_stream(
            f,
            out,
            key,
            model_id=model_id,
            model_version=model_version,
            segment_size=segment_size,
            on_progress=on_progress,
        )


def decrypt_file(
    src: Path,
    dst: Path,
    key: WeightsKey,
    *,
    pins: Pins | None = None,
    force: bool = False,
    on_progress: ProgressCallback | None = None,
) -> Manifest:
    """Decrypt to a temporary file and rename on success: on any failure `dst` is not created."""
    _check_destination(src, dst, force=force)
    f, size = _open_source(src)
    with f, atomic_output(dst) as out:
        return decrypt_stream(f, size, out, key, source=str(src), pins=pins, on_progress=on_progress)


def decrypt_to_stream(
    src: Path, out: BinaryIO, key: WeightsKey, *, pins: Pins | None = None, on_progress: ProgressCallback | None = None
) -> Manifest:
    """Decrypt into a pipe or socket. Each written segment is authenticated; the reader must check our exit."""
    f, size = _open_source(src)
    with f:
        return decrypt_stream(f, size, out, key, source=str(src), pins=pins, on_progress=on_progress)


def verify_file(
    src: Path, key: WeightsKey, *, pins: Pins | None = None, on_progress: ProgressCallback | None = None
) -> Manifest:
    """Check everything decrypt checks, plus the plaintext SHA-256, writing nothing."""
    f, size = _open_source(src)
    with f:
        return decrypt_stream(
            f, size, None, key, source=str(src), pins=pins, check_plaintext_digest=True, on_progress=on_progress
        )


@dataclass(frozen=True)
class Inspection:
    """What `inspect` reports without a key. `signature_valid` only says the embedded signer signed it."""

    structure: ContainerStructure
    signature_valid: bool
    consistency_error: str | None

    def to_dict(self) -> dict[str, object]:
        h = self.structure.header
        return {
            "header": {
                "format_version": h.version,
                "header_length": h.length,
                "segment_size": h.segment_size,
                "key_id": h.key_id.hex(),
                "salt": h.salt.hex(),
                "nonce_prefix": h.nonce_prefix.hex(),
                "model_id": h.model_id,
                "model_version": h.model_version,
            },
            "segments": self.structure.layout.count,
            "manifest": self.structure.signed.manifest.to_dict(),
            "signature_valid_for_embedded_signer": self.signature_valid,
            "consistency_error": self.consistency_error,
        }


def inspect_file(src: Path) -> Inspection:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from leakline.weights.errors import ManifestSignatureError

    f, size = _open_source(src)
    with f:
        structure = read_structure(f, size, source=str(src))
    try:
        signer = Ed25519PublicKey.from_public_bytes(bytes.fromhex(structure.signed.manifest.signer))
        structure.signed.verify(signer, source=str(src))
        valid = True
    except (ManifestSignatureError, ValueError):  # ValueError: `signer` is not a usable public key
        valid = False
    try:
        check_manifest_against_structure(structure)
        problem = None
    except ManifestMismatchError as exc:
        problem = exc.message
    return Inspection(structure=structure, signature_valid=valid, consistency_error=problem)


# --- random access -------------------------------------------------------------------------------------


class EncryptedWeightsReader(io.RawIOBase):
    """A read-only, seekable file object over the plaintext of a container.

    Opening authenticates the header and the signed manifest; each read decrypts (and authenticates) only
    the segments it touches, keeping the most recent one. Whole-file digests are not checked here (that
    needs a full pass: run `verify` once after a transfer); segment authentication with position and
    final-segment flag still rejects any modified, moved, foreign or cut-off segment.
    """

    def __init__(self, path: Path, key: WeightsKey, *, pins: Pins | None = None) -> None:
        super().__init__()
        f, size = _open_source(path)
        try:
            self._opened = open_container(f, size, key, source=str(path), pins=pins)
        except BaseException:
            f.close()
            raise
        self._file = f
        self._pos = 0
        layout = self._opened.layout
        self._sealed = bytearray(layout.ct_segment_size)
        self._plain = bytearray(layout.segment_size)
        self._cached_index = -1
        self._cached_length = 0

    @property
    def manifest(self) -> Manifest:
        return self._opened.manifest

    @property
    def size(self) -> int:
        return self._opened.layout.plaintext_size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        self._pos = target
        return target

    def _segment(self, index: int) -> memoryview:
        """The plaintext of segment `index`, decrypted into a reused buffer (only after authentication)."""
        if index != self._cached_index:
            layout = self._opened.layout
            offset = layout.segment_offset(index)
            length = layout.segment_ct_length(index)
            self._file.seek(offset)
            sealed = _read_into(self._file, memoryview(self._sealed)[:length])
            if len(sealed) != length:
                raise TruncatedError(
                    f"{self._opened.structure.source}: file ends inside segment {index}", offset=offset + len(sealed)
                )
            self._cached_index = -1  # the buffer is overwritten now; it is valid again only on success
            self._opened.cipher.open_into(
                index,
                sealed,
                index == layout.count - 1,
                memoryview(self._plain)[: length - TAG_SIZE],
                offset=offset,
                count=layout.count,
            )
            self._cached_index = index
            self._cached_length = length - TAG_SIZE
        return memoryview(self._plain)[: self._cached_length]

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self.size - self._pos))
        done = 0
        seg_size = self._opened.layout.segment_size
        while done < wanted:
            index, start = divmod(self._pos, seg_size)
            plain = self._segment(index)
            take = min(wanted - done, len(plain) - start)
            view[done : done + take] = plain[start : start + take]
            done += take
            self._pos += take
        return done

    def read_range(self, offset: int, length: int) -> bytes:
        """The plaintext bytes [offset, offset+length), clipped to the end of the file."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be non-negative")
        self.seek(offset)
        buf = bytearray(min(length, max(0, self.size - offset)))
        got = self.readinto(buf)
        return bytes(buf[:got])

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


def decrypt_range(path: Path, key: WeightsKey, offset: int, length: int) -> bytes:
    with EncryptedWeightsReader(path, key) as reader:
        return reader.read_range(offset, length)

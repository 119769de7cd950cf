"""Compiled Hyperscan databases kept on disk, so that a scan loads its prefilter instead of compiling it.

Compiling the prefilter's database costs a scan 17-45 ms; loading a serialized one ~0.03 ms. A database is
serialized for the platform it was compiled on, so a file's key is everything its bytes depend
on: the expressions, their ids and flags, the mode, the Hyperscan build (the binding's version and its
extension module's size and time) and the machine (architecture and CPU feature flags). The file holds that
key in full (its name, a checksum of it) and a CRC-32 of the serialized database; anything that does not
check out (truncated, corrupt, another key, not owned by this user, Hyperscan refusing it) is treated as
absent: the caller compiles, and the new database replaces the file. Checksums, not cryptographic hashes:
the file is the user's own (a file of another user is not read), and `hashlib` would bring OpenSSL into
every scan's start-up (~4 ms). Files are written to a temporary name and renamed over the old one, so
concurrent scans (a CI matrix sharing a cache) read a whole file or none. A cache that cannot be written is
no error: the scan compiles, as without a cache. Where: `$LEAKLINE_CACHE_DIR`, else
`$XDG_CACHE_HOME/leakline`, else `~/.cache/leakline`; `LEAKLINE_NO_CACHE=1` or `leakline scan --no-cache`
turns it off.
"""

from __future__ import annotations

import contextlib
import os
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CACHE_DIR_ENV = "LEAKLINE_CACHE_DIR"
NO_CACHE_ENV = "LEAKLINE_NO_CACHE"
FORMAT = b"leakline-hsdb-1\n"
"""The first bytes of every file; a new layout gets a new line (and so, through the key, new file names).
Then: the key's length (4 bytes, little-endian), the key, the database's CRC-32 (4 bytes) and the database."""
MAX_FILE_BYTES = 64 << 20
"""Larger files are not read: the prefilter's database is ~70 KB."""


def debug(message: str, *args: object) -> None:
    # `logging` is imported only when there is something to say: a scan's start-up does without it.
    import logging

    logging.getLogger("leakline.scan.cache").debug(message, *args)


def default_cache_dir() -> Path | None:
    """The cache folder the environment names, or None when the cache is turned off (or no home is known)."""
    if os.environ.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return None
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec ignores a relative XDG_CACHE_HOME.
    if xdg and os.path.isabs(xdg):  # noqa: PTH117
        return Path(xdg) / "leakline"
    try:
        return Path.home() / ".cache" / "leakline"
    except RuntimeError:  # no HOME and no password entry
        return None


def _cpu_features() -> bytes:
    """The CPU feature flags of this machine (Linux: processor 0's `flags` line), empty where unknown."""
    try:
        with open("/proc/cpuinfo", "rb") as cpuinfo:
            head = cpuinfo.read(65536)
    except OSError:
        return b""
    for line in head.split(b"\n"):
        if line.startswith((b"flags", b"Features")):  # x86 / ARM spelling
            return line
    return b""


def _build_identity(hyperscan: Any) -> bytes:
    """What a serialized database depends on besides its expressions: Hyperscan's build and the machine."""
    ext = getattr(hyperscan, "_hs_ext", None)
    parts = [
        str(getattr(hyperscan, "__version__", "")),
        str(getattr(ext, "__version__", "")),
        sys.platform,
        os.uname().machine if hasattr(os, "uname") else "",
    ]
    ext_file = getattr(ext, "__file__", None)
    if ext_file:
        try:
            st = os.stat(ext_file)  # noqa: PTH116
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append("?")
    return "\0".join(parts).encode() + b"\0" + _cpu_features()


def database_key(
    hyperscan: Any, expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int], mode: int
) -> bytes:
    """Everything a database's bytes depend on, in full: its exact inputs, Hyperscan's build and the machine."""
    parts = [FORMAT, _build_identity(hyperscan), b"\0mode=%d\0" % mode]
    for expression, number, flag in zip(expressions, ids, flags, strict=True):
        # Length-prefixed, so that no two lists run together into the same bytes.
        parts.append(b"%d:%d:%d:" % (number, flag, len(expression)))
        parts.append(expression)
    return b"".join(parts)


def _file_for(directory: Path, name: str, key: bytes) -> Path:
    # Two checksums for the name: a collision costs two keys one file (each scan rewrites it), never a wrong load.
    return directory / f"{name}-{zlib.crc32(key):08x}{zlib.adler32(key):08x}.hsdb"


def _read(path: Path, key: bytes) -> bytes | None:
    """The serialized database in `path` if the file is whole, holds `key` and is this user's own."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        debug("hyperscan cache %s: cannot open: %s", path, exc.strerror)
        return None
    try:
        st = os.fstat(fd)
        # A file someone else could have put there (a shared or world-writable folder) is not loaded.
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            debug("hyperscan cache %s: not owned by this user, ignored", path)
            return None
        if not 0 < st.st_size <= MAX_FILE_BYTES:
            debug("hyperscan cache %s: unexpected size %d", path, st.st_size)
            return None
        chunks = []
        left = st.st_size
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        debug("hyperscan cache %s: cannot read: %s", path, exc.strerror)
        return None
    finally:
        os.close(fd)
    start = len(FORMAT) + 4
    if not data.startswith(FORMAT) or len(data) < start:
        debug("hyperscan cache %s: not a leakline database file (or truncated)", path)
        return None
    end = start + int.from_bytes(data[start - 4 : start], "little")
    if data[start:end] != key:
        debug("hyperscan cache %s: made for other patterns or another Hyperscan build", path)
        return None
    payload = data[end + 4 :]
    if not payload or zlib.crc32(payload) != int.from_bytes(data[end : end + 4], "little"):
        debug("hyperscan cache %s: checksum mismatch (corrupt or truncated)", path)
        return None
    return payload


def _write(path: Path, key: bytes, payload: bytes) -> bool:
    """Write the file under a temporary name and rename it into place; False (and a debug line) on failure."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            header = FORMAT + len(key).to_bytes(4, "little") + key + zlib.crc32(payload).to_bytes(4, "little")
            view = memoryview(header + payload)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        temporary.replace(path)
    except OSError as exc:
        debug("hyperscan cache %s: cannot write: %s", path, exc.strerror)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return False
    return True


class CachedDatabase:
    """One compiled database's place in the cache: the inputs it is compiled from, its key and its file."""

    def __init__(
        self,
        hyperscan: Any,
        directory: Path,
        name: str,
        expressions: Sequence[bytes],
        ids: Sequence[int],
        flags: Sequence[int],
        mode: int,
    ) -> None:
        self._hyperscan = hyperscan
        self.mode = mode
        self.key = database_key(hyperscan, expressions, ids, flags, mode)
        self.path = _file_for(directory, name, self.key)

    def load(self) -> Any | None:
        """The cached database, or None (absent, unusable, or refused by Hyperscan)."""
        payload = _read(self.path, self.key)
        if payload is None:
            return None
        try:
            return self._hyperscan.loadb(payload, self.mode)
        except Exception as exc:  # hyperscan.error and its kinds: another version, platform or mode
            debug("hyperscan cache %s: hyperscan refused it: %s", self.path, exc)
            return None

    def store(self, database: Any) -> bool:
        """Serialize `database` (compiled from this entry's inputs) into its file; False if not written."""
        try:
            payload = bytes(self._hyperscan.dumpb(database))
        except Exception as exc:
            debug("hyperscan cache %s: cannot serialize: %s", self.path, exc)
            return False
        return _write(self.path, self.key, payload)

"""Fixed key material and small containers shared by the weights tests."""

from __future__ import annotations

import contextlib
import io
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leakline.weights.container import SealMaterial, encrypt_stream
from leakline.weights.keys import WeightsKey, key_from_material
from leakline.weights.manifest import SignedManifest

KAT_KEK = bytes(range(32))
KAT_SIGNING_SEED = bytes(range(32, 64))
KAT_DATA_KEY = bytes(range(64, 96))
KAT_SALT = bytes(range(96, 128))
KAT_NONCE_PREFIX = bytes.fromhex("a0a1a2a3a4a5a6")
KAT_CREATED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
KAT_PLAINTEXT = bytes((i * 7 + 3) % 256 for i in range(200))
KAT_SEGMENT_SIZE = 64


def kat_key() -> WeightsKey:
    return key_from_material(KAT_KEK, KAT_SIGNING_SEED)


def kat_material() -> SealMaterial:
    return SealMaterial(KAT_DATA_KEY, KAT_SALT, KAT_NONCE_PREFIX)


def seal(
    plaintext: bytes,
    key: WeightsKey | None = None,
    *,
    model_id: str = "llama-test",
    model_version: str = "1",
    segment_size: int = KAT_SEGMENT_SIZE,
    material: SealMaterial | None = None,
) -> tuple[bytes, SignedManifest]:
    out = io.BytesIO()
    signed = encrypt_stream(
        io.BytesIO(plaintext),
        out,
        key or kat_key(),
        model_id=model_id,
        model_version=model_version,
        segment_size=segment_size,
        material=material,
        created_at=KAT_CREATED_AT,
    )
    return out.getvalue(), signed


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A real small (ENOSPC) or read-only (EROFS) file system at `where`; needs root, skipped elsewhere."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)

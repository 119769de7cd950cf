"""Key files: created 0600, never overwritten, refused when readable by others or malformed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from leakline.weights.errors import KeyFileError
from leakline.weights.keys import generate_key, load_keyfile, write_keyfile


def test_keygen_writes_0600_and_loads_back(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "k.json"
    write_keyfile(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_keyfile(path)
    assert loaded.key_id == key.key_id
    assert loaded.kek == key.kek
    assert loaded.verify_key_bytes == key.verify_key_bytes
    assert loaded.signing_key is not None
    assert key.kek.hex() not in repr(loaded)


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write_keyfile(path, generate_key())
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        write_keyfile(path, generate_key())
    assert path.read_bytes() == before


def test_group_readable_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write_keyfile(path, generate_key())
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="mode 0640"):
        load_keyfile(path)


def test_site_copy_has_no_signing_key(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    write_keyfile(path, generate_key().without_signing_key())
    doc = json.loads(path.read_text())
    assert "signing_key" not in doc
    assert load_keyfile(path).signing_key is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(kek="!!!"), "kek: not valid base64"),
        (lambda d: d.update(kek="AAAA"), "kek: expected 32 bytes, got 3"),
        (lambda d: d.update(key_id="00" * 16), "key_id does not match kek"),
        (lambda d: d.update(extra=1), "extra: unknown key"),
        (lambda d: d.update(version=2), "version: expected 1, got 2"),
    ],
)
def test_malformed_key_files_name_the_field(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.json"
    write_keyfile(good, generate_key())
    doc = json.loads(good.read_text())
    edit(doc)
    bad = tmp_path / "bad.json"
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, json.dumps(doc).encode())
    os.close(fd)
    with pytest.raises(KeyFileError) as caught:
        load_keyfile(bad)
    assert message in caught.value.message
    assert str(bad) in caught.value.message


def test_not_json_names_the_offset(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"format": ')
    os.close(fd)
    with pytest.raises(KeyFileError, match="byte offset 11"):
        load_keyfile(bad)

"""`leakline weights …` through the real entry point: exit codes 0/1/2, messages, no plaintext left behind."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from leakline.cli import main
from leakline.weights.container import encrypt_file
from leakline.weights.keys import generate_key, write_keyfile
from tests.weights.helpers import tmpfs

MIB = 1 << 20


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """Run `leakline weights …` in-process through the real entry point (`main`), which maps errors to codes."""

    def invoke(*args: str | Path, cwd: Path) -> Ran:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["leakline", "weights", *map(str, args)])
        monkeypatch.setenv("COLUMNS", "200")
        capsys.readouterr()
        with pytest.raises(SystemExit) as caught:
            main()
        out = capsys.readouterr()
        code = caught.value.code
        return Ran(code if isinstance(code, int) else (0 if code is None else 1), out.out, out.err)

    return invoke


def run_subprocess(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "leakline.cli", "weights", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    (root / "model.bin").write_bytes(os.urandom(2 * MIB + 12345))  # three 1 MiB segments
    key = generate_key()
    write_keyfile(root / "key.json", key)
    encrypt_file(root / "model.bin", root / "model.llw", key, model_id="llama", model_version="2")
    return root


def test_keygen_and_encrypt_through_the_cli(tmp_path: Path, run: Callable[..., Ran]) -> None:
    (tmp_path / "m.bin").write_bytes(b"weights" * 1000)
    made = run("keygen", "k.json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE((tmp_path / "k.json").stat().st_mode) == 0o600
    done = run("encrypt", "m.bin", "m.llw", "--key", "k.json", "--model-id", "tiny", "--model-version", "0.1",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "model 'tiny' version '0.1', 1 segments" in done.stdout
    site = run("keygen", "site.json", "--site-copy-of", "k.json", cwd=tmp_path)
    assert site.returncode == 0
    assert "signing_key" not in (tmp_path / "site.json").read_text()
    refused = run("encrypt", "m.bin", "n.llw", "--key", "site.json", "--model-id", "tiny", cwd=tmp_path)
    assert refused.returncode == 2
    assert "no signing key" in refused.stderr
    assert not (tmp_path / "n.llw").exists()


def test_keygen_refuses_to_overwrite(workdir: Path, run: Callable[..., Ran]) -> None:
    again = run("keygen", "key.json", cwd=workdir)
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_encrypt_decrypt_round_trip(workdir: Path, run: Callable[..., Ran]) -> None:
    done = run("decrypt", "model.llw", "out.bin", "--key", "key.json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert (workdir / "out.bin").read_bytes() == (workdir / "model.bin").read_bytes()
    (workdir / "out.bin").unlink()


def test_damaged_last_segment_leaves_no_destination_and_names_the_segment(workdir: Path, run: Callable[..., Ran]) -> None:
    blob = bytearray((workdir / "model.llw").read_bytes())
    header_length = int.from_bytes(blob[9:13], "big")
    blob[header_length + 2 * (MIB + 16) + 100] ^= 0x01  # segment 2, after two good segments were written
    (workdir / "bad.llw").write_bytes(bytes(blob))
    before = {p.name for p in workdir.iterdir()}
    done = run("decrypt", "bad.llw", "plain.bin", "--key", "key.json", cwd=workdir)
    assert done.returncode == 1
    assert "segment 2 (bytes" in done.stderr
    assert "failed authentication" in done.stderr
    assert not (workdir / "plain.bin").exists()
    assert {p.name for p in workdir.iterdir()} == before  # no temporary file left either


def test_truncated_file_exits_1(workdir: Path, run: Callable[..., Ran]) -> None:
    (workdir / "short.llw").write_bytes((workdir / "model.llw").read_bytes()[: MIB + 5])
    done = run("decrypt", "short.llw", "plain2.bin", "--key", "key.json", cwd=workdir)
    assert done.returncode == 1
    assert "truncated" in done.stderr
    assert not (workdir / "plain2.bin").exists()


def test_wrong_key_exits_1_and_says_so(workdir: Path, run: Callable[..., Ran]) -> None:
    assert run("keygen", "other.json", cwd=workdir).returncode == 0
    done = run("verify", "model.llw", "--key", "other.json", cwd=workdir)
    assert done.returncode == 1
    assert "key id" in done.stderr


def test_verify_and_version_pin(workdir: Path, run: Callable[..., Ran]) -> None:
    ok = run("verify", "model.llw", "--key", "key.json", "--model-version", "2", cwd=workdir)
    assert ok.returncode == 0, ok.stderr
    assert "ok: model.llw" in ok.stdout
    old = run("verify", "model.llw", "--key", "key.json", "--model-version", "3", cwd=workdir)
    assert old.returncode == 1
    assert "version '2'" in old.stderr


def test_usage_errors_exit_2(workdir: Path, run: Callable[..., Ran]) -> None:
    missing = run("decrypt", "nope.llw", "x.bin", "--key", "key.json", cwd=workdir)
    assert missing.returncode == 2
    assert "nope.llw: no such file" in missing.stderr
    (workdir / "exists.bin").write_bytes(b"keep me")
    exists = run("decrypt", "model.llw", "exists.bin", "--key", "key.json", cwd=workdir)
    assert exists.returncode == 2
    assert (workdir / "exists.bin").read_bytes() == b"keep me"
    no_model = run("encrypt", "model.bin", "y.llw", "--key", "key.json", cwd=workdir)
    assert no_model.returncode == 2
    write_keyfile(workdir / "loose.json", generate_key())
    (workdir / "loose.json").chmod(0o644)
    loose = run("verify", "model.llw", "--key", "loose.json", cwd=workdir)
    assert loose.returncode == 2
    assert "must be 0600" in loose.stderr


def test_inspect_needs_no_key_and_shows_no_secret(workdir: Path, run: Callable[..., Ran]) -> None:
    done = run("inspect", "model.llw", "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["header"]["model_id"] == "llama"
    assert doc["manifest"]["model_version"] == "2"
    assert doc["segments"] == 3
    assert doc["signature_valid_for_embedded_signer"] is True
    assert doc["consistency_error"] is None
    key_doc = json.loads((workdir / "key.json").read_text())
    assert key_doc["kek"] not in done.stdout
    assert key_doc["signing_key"] not in done.stdout


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_inspect_shows_a_bad_signature_or_inconsistency_and_exits_1(
    workdir: Path, tmp_path: Path, run: Callable[..., Ran], as_json: bool
) -> None:
    from leakline.weights.manifest import SIGNATURE_SIZE, TRAILER_MAGIC

    good = (workdir / "model.llw").read_bytes()
    forged = bytearray(good)
    forged[-(len(TRAILER_MAGIC) + 4 + SIGNATURE_SIZE // 2)] ^= 0x01  # inside the Ed25519 signature
    (tmp_path / "forged.llw").write_bytes(bytes(forged))
    # The header of the same plaintext as version "3" (same length), before version "2"'s segments and manifest.
    encrypt_file(workdir / "model.bin", tmp_path / "v3.llw", generate_key(), model_id="llama", model_version="3")
    header_length = int.from_bytes(good[9:13], "big")
    (tmp_path / "mixed.llw").write_bytes((tmp_path / "v3.llw").read_bytes()[:header_length] + good[header_length:])
    options = ["--json"] if as_json else []

    forged_run = run("inspect", "forged.llw", *options, cwd=tmp_path)
    assert forged_run.returncode == 1
    assert forged_run.stderr == "error: forged.llw: the manifest signature is INVALID for the embedded signer\n"
    mixed = run("inspect", "mixed.llw", *options, cwd=tmp_path)
    assert mixed.returncode == 1
    assert mixed.stderr == "error: mixed.llw: manifest model_version is '2' but the header's model_version is '3'\n"
    if as_json:
        assert json.loads(forged_run.stdout)["signature_valid_for_embedded_signer"] is False
        assert json.loads(mixed.stdout)["consistency_error"] == (
            "mixed.llw: manifest model_version is '2' but the header's model_version is '3'"
        )
    else:
        assert re.search(r"│ signature +│ INVALID +│", forged_run.stdout)
        assert re.search(r"│ consistency +│ header, layout and manifest agree +│", forged_run.stdout)
        assert re.search(r"│ signature +│ valid for the embedded signer", mixed.stdout)
        assert re.search(r"│ consistency +│ mixed.llw: manifest model_version is '2' but the header's", mixed.stdout)
    assert run("inspect", workdir / "model.llw", *options, cwd=tmp_path).returncode == 0


def test_decrypt_to_stdout_streams_the_plaintext(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    monkeypatch.chdir(workdir)
    monkeypatch.setattr(sys, "argv", ["leakline", "weights", "decrypt", "model.llw", "-", "--key", "key.json"])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code in (0, None)
    assert capsysbinary.readouterr().out == (workdir / "model.bin").read_bytes()


def test_integrity_failure_exits_1_through_the_installed_entry_point(workdir: Path) -> None:
    blob = bytearray((workdir / "model.llw").read_bytes())
    blob[-100] ^= 0x01  # inside the signed manifest
    (workdir / "forged.llw").write_bytes(bytes(blob))
    integrity = run_subprocess("verify", "forged.llw", "--key", "key.json", cwd=workdir)
    assert integrity.returncode == 1
    assert b"forged.llw" in integrity.stderr
    assert b"Traceback" not in integrity.stderr


def test_a_directory_as_destination_is_refused_even_with_force(tmp_path: Path, run: Callable[..., Ran]) -> None:
    (tmp_path / "m.bin").write_bytes(b"weights" * 1000)
    assert run("keygen", "k.json", cwd=tmp_path).returncode == 0
    assert run("encrypt", "m.bin", "m.llw", "--key", "k.json", "--model-id", "tiny", cwd=tmp_path).returncode == 0
    (tmp_path / "served").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in (("decrypt", "m.llw", "served", "--key", "k.json", "--force"),
                    ("encrypt", "m.bin", "served", "--key", "k.json", "--model-id", "tiny", "--force")):
        done = run(*command, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: served: is a directory\n")
        assert "Traceback" not in done.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temporary file left beside it
        assert list((tmp_path / "served").iterdir()) == []


def test_decrypt_to_a_path_ending_in_a_slash_is_refused(tmp_path: Path, run: Callable[..., Ran]) -> None:
    (tmp_path / "m.bin").write_bytes(b"weights" * 1000)
    assert run("keygen", "k.json", cwd=tmp_path).returncode == 0
    assert run("encrypt", "m.bin", "m.llw", "--key", "k.json", "--model-id", "tiny", cwd=tmp_path).returncode == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    done = run("decrypt", "m.llw", "served/", "--key", "k.json", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: served/: names a directory (it ends with '/')\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no plaintext file called 'served'


@pytest.mark.parametrize("command", ["decrypt", "encrypt"])
def test_an_unwritable_destination_is_a_usage_error_naming_it(
    workdir: Path, tmp_path: Path, run: Callable[..., Ran], command: str
) -> None:
    (tmp_path / "afile").write_bytes(b"not a directory")
    source = "model.llw" if command == "decrypt" else "model.bin"
    extra = ["--model-id", "llama"] if command == "encrypt" else []
    for dst, reason in [
        (tmp_path / "afile" / "x.bin", f"{tmp_path / 'afile' / 'x.bin'}: Not a directory\nhint: "
                                        f"{tmp_path / 'afile'} is a file"),
        (Path("/proc/x.bin"), "/proc/x.bin: No such file or directory"),
    ]:
        ran = run(command, workdir / source, dst, "--key", workdir / "key.json", *extra, cwd=tmp_path)
        assert (ran.returncode, ran.stderr) == (2, f"error: {reason}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_full_or_read_only_file_system_is_a_usage_error_and_leaves_nothing(
    workdir: Path, tmp_path: Path, run: Callable[..., Ran]
) -> None:
    with tmpfs(tmp_path / "small", "size=1m") as small:
        ran = run("decrypt", workdir / "model.llw", small / "x.bin", "--key", workdir / "key.json", cwd=tmp_path)
        assert (ran.returncode, ran.stderr) == (2, f"error: {small / 'x.bin'}: No space left on device\n")
        assert list(small.iterdir()) == []
    with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        ran = run("decrypt", workdir / "model.llw", ro / "x.bin", "--key", workdir / "key.json", cwd=tmp_path)
        assert (ran.returncode, ran.stderr) == (2, f"error: {ro / 'x.bin'}: Read-only file system\n")


def test_a_write_failing_midway_is_a_usage_error_without_traceback(workdir: Path, tmp_path: Path) -> None:
    def limit_file_size() -> None:
        # Writes past 1 MiB fail with EFBIG (instead of SIGXFSZ killing the process): a disk that fills up
        # after the temporary file was created and the first segment written.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (MIB, MIB))

    ran = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "weights", "decrypt", str(workdir / "model.llw"),
         str(tmp_path / "x.bin"), "--key", str(workdir / "key.json")],
        cwd=tmp_path, capture_output=True, timeout=120, preexec_fn=limit_file_size,
    )
    assert (ran.returncode, ran.stderr.decode()) == (2, f"error: {tmp_path / 'x.bin'}: File too large\n")
    assert list(tmp_path.iterdir()) == []

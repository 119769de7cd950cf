"""SIGTERM and SIGHUP in the middle of `weights encrypt`, `decrypt` and `pull`, sent to a real process.

The process is frozen (SIGSTOP) once its temporary output exists, sent the signal, and let go (SIGCONT), so
the signal always lands mid-write however fast the machine is. It must remove its partial output (for
`decrypt`: plaintext) and exit 128 + the signal number without a traceback; `pull` keeps its encrypted,
resumable `.part`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from leakline.weights.container import encrypt_file
from leakline.weights.keys import generate_key, write_keyfile
from leakline.weights.refusals import JsonLinesRefusalLog
from leakline.weights.transfer import WeightsServer, load_served_model, server_tls_context
from tests.weights.pki import ThrowawayCA

MIB = 1 << 20
SIZE = 96 * MIB


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("signals")
    (root / "model.bin").write_bytes(os.urandom(SIZE))
    key = generate_key()
    write_keyfile(root / "key.json", key)
    encrypt_file(root / "model.bin", root / "model.llw", key, model_id="big", model_version="1")
    return root


def start(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "leakline.cli", "weights", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def signal_midway(proc: subprocess.Popen[bytes], writing: Callable[[], bool], signum: int) -> tuple[int, str]:
    """Once `writing()` is true, freeze the process, queue `signum`, let it go; its exit code and stderr."""
    deadline = time.monotonic() + 60
    while not writing():
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "the command never started writing"
        time.sleep(0.001)
    proc.send_signal(signal.SIGSTOP)
    try:
        assert writing(), "the command finished before it could be stopped; make SIZE larger"
        proc.send_signal(signum)
    finally:
        proc.send_signal(signal.SIGCONT)
    _out, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode()


def partials(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


def partial_has_bytes(directory: Path) -> bool:
    return any(p.stat().st_size > 0 for p in directory.iterdir() if p.name.endswith(".partial"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_decrypt_removes_its_partial_plaintext(big: Path, tmp_path: Path, signum: int) -> None:
    proc = start("decrypt", str(big / "model.llw"), str(tmp_path / "model.bin"), "--key", str(big / "key.json"),
                 cwd=tmp_path)
    code, err = signal_midway(proc, lambda: partial_has_bytes(tmp_path), signum)
    assert code == 128 + signum
    assert err == f"stopped by {signal.Signals(signum).name}\n"
    assert list(tmp_path.iterdir()) == []


def test_encrypt_removes_its_partial_container(big: Path, tmp_path: Path) -> None:
    proc = start("encrypt", str(big / "model.bin"), str(tmp_path / "model.llw"), "--key", str(big / "key.json"),
                 "--model-id", "big", cwd=tmp_path)
    code, err = signal_midway(proc, lambda: partial_has_bytes(tmp_path), signal.SIGTERM)
    assert code == 128 + signal.SIGTERM
    assert err == "stopped by SIGTERM\n"
    assert list(tmp_path.iterdir()) == []


def test_pull_keeps_its_resumable_part_and_exits_143(big: Path, tmp_path: Path) -> None:
    ca = ThrowawayCA(tmp_path)
    issued = ca.issue("server", server=True)
    tls = server_tls_context(issued.cert, issued.key)
    model = load_served_model("big", big / "model.llw", ["eu-central"])
    site = tmp_path / "site"
    site.mkdir()
    (site / "leakline.toml").write_text(
        f'[weights]\nregion = "eu-central"\n\n[weights.tls]\nca = "{ca.path}"\n', encoding="utf-8"
    )
    part = site / "model.llw.part"
    with WeightsServer([model], tls, JsonLinesRefusalLog(tmp_path / "refusals.jsonl")) as server:
        proc = start("pull", server.url, "big", "model.llw", "--key", str(big / "key.json"), cwd=site)
        code, err = signal_midway(proc, lambda: part.exists() and part.stat().st_size > MIB, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM
    assert err == "stopped by SIGTERM\n"
    assert sorted(p.name for p in site.iterdir()) == ["leakline.toml", "model.llw.part"]
    assert 0 < part.stat().st_size < (big / "model.llw").stat().st_size
    assert part.read_bytes() == (big / "model.llw").read_bytes()[: part.stat().st_size]

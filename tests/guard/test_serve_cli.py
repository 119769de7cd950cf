"""`leakline serve` as an operator starts it: what it refuses before it builds anything or binds a port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def _serve(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakline.cli", "serve", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=60,
    )


def test_a_port_in_use_stops_serve_before_start_up_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "leakline.toml").write_text("", encoding="utf-8")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        proc = _serve(tmp_path, "--config", "leakline.toml", "--port", str(port))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"error: --port {port}: 127.0.0.1:{port} is already in use (Address already in use)\n"
        "hint: stop what listens there, or choose another --port\n"
    )
    assert proc.stdout == ""


def test_a_port_in_use_stops_the_demo_before_it_writes_anything(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        proc = _serve(tmp_path, "--demo", "--port", str(port))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: --port {port}: 127.0.0.1:{port} is already in use")
    assert "LEAKLINE DEMO" not in proc.stderr


def test_a_host_that_does_not_resolve_stops_serve_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "leakline.toml").write_text("", encoding="utf-8")
    proc = _serve(tmp_path, "--config", "leakline.toml", "--host", "no-such-host.invalid", "--port", "8080")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: --host no-such-host.invalid: cannot listen there (")
    assert "Traceback" not in proc.stderr

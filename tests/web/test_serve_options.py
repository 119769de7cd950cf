"""`leakline serve`'s own options, refused before anything is built: a port out of range, --demo with --config,
an explicit --config that does not exist (an error only, not also the warning meant for a missing default)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _serve(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakline.cli", "serve", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("99999", "Invalid value for '--port': Input should be less than or equal to 65535"),
        ("0", "Invalid value for '--port': Input should be greater than or equal to 1"),
        ("-1", "Invalid value for '--port': Input should be greater than or equal to 1"),
    ],
)
def test_a_port_out_of_range_is_refused_as_a_port(tmp_path: Path, port: str, message: str) -> None:
    proc = _serve(tmp_path, "--port", port)
    assert proc.returncode == 2
    assert message in proc.stderr and "--host" not in proc.stderr, proc.stderr


def test_demo_with_a_config_is_refused_before_the_demo_writes_anything(tmp_path: Path) -> None:
    proc = _serve(tmp_path, "--demo", "--config", "mine.toml", "--port", "1")
    assert proc.returncode == 2
    assert proc.stderr == "error: --demo and --config: the demo serves its own generated configuration; choose one\n"


def test_an_explicit_missing_config_is_an_error_without_the_default_files_warning(tmp_path: Path) -> None:
    proc = _serve(tmp_path, "--config", "missing.toml", "--port", "1")
    assert proc.returncode == 2
    assert proc.stderr == "error: missing.toml: no such file\nhint: create it, or pass --config with the right path\n"

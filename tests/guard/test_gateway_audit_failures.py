"""An audit sink that cannot be written (a full disk): counted, reported by `/readyz` and the log, and the
records lost are recorded once the disk takes writes again. The disk is a real 600 KiB tmpfs (mounting one
needs root; without it these tests are skipped), filled by a file, so every error is the kernel's own."""

from __future__ import annotations

import contextlib
import errno
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leakline.guard import events as events_module
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, audit_records, meta_of

DE = {"x-vercel-ip-country": "DE"}
NO_SPACE = "No space left on device"


@contextlib.contextmanager
def _small_disk(where: Path, size: str = "600k") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or mounted.returncode})")
    try:
        yield where
    finally:
        # Lazy: a log descriptor still open in a daemon thread must not leave the mount behind.
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> Path:
    """Take every free block of `disk` with one file; return it (delete it to free the space)."""
    filler = disk / "filler.bin"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        for _ in range(16):  # the last partial blocks, byte by byte
            try:
                handle.write(b"\0" * 512)
            except OSError:
                break
    return filler


@pytest.fixture
def eu_sink_disk(tmp_path: Path) -> Iterator[Path]:
    """The eu region's audit sink (`tmp_path/audit-eu`, where `write_settings` puts it) on a small disk.
    Requested before `make_env`, so the gateway stops before the disk is unmounted."""
    with _small_disk(tmp_path / "audit-eu") as disk:
        yield disk


def _chat(env: Env, n: int, *, pad: int = 0) -> httpx.Response:
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": f"question {n} " + "x" * pad}]}
    headers = {"authorization": f"Bearer {KEYS['storefront']}", **DE}
    return httpx.post(f"{env.url}/v1/chat/completions", json=body, headers=headers, timeout=20)


def _audit_series(env: Env) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in httpx.get(f"{env.url}/metrics").text.splitlines():
        if line.startswith("leakline_gateway_audit_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def _question(record: Any) -> int:
    content = record.payload["prompt"]["messages"][0]["content"]
    match = re.match(r"question (\d+)", content)
    assert match is not None
    return int(match.group(1))


def test_a_full_disk_mid_run_is_counted_reported_and_recorded_as_a_gap_once_the_disk_takes_writes(
    eu_sink_disk: Path, make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env: Env = make_env()
    with caplog.at_level("INFO"):
        for n in range(3):
            assert _chat(env, n).status_code == 200
        env.drain()
        ready = httpx.get(f"{env.url}/readyz")
        assert ready.status_code == 200 and "audit" not in ready.json()

        filler = _fill(eu_sink_disk)
        # "serve" (the default): the visitors are answered while their exchanges cannot be recorded.
        for n in range(3, 9):
            assert _chat(env, n, pad=3000).status_code == 200
        env.drain()

        failing = httpx.get(f"{env.url}/readyz")
        assert failing.status_code == 503
        body = failing.json()
        assert body["status"] == "not_ready" and list(body["audit"]) == ["eu"]
        assert body["audit"]["eu"]["status"] == "failing"
        error = body["audit"]["eu"]["error"]
        assert re.fullmatch(
            rf"the audit log cannot be written \({NO_SPACE}\) since \d{{4}}-\d\d-\d\dT[\d:.]+Z; "
            r"(\d+) exchange record\(s\) lost so far",
            error,
        ), error
        assert str(eu_sink_disk) not in failing.text and "audit-eu" not in failing.text
        series = _audit_series(env)
        lost = series['leakline_gateway_audit_records_lost_total{kind="exchange",sink="eu"}']
        assert lost >= 1
        assert f"; {int(lost)} exchange record(s) lost so far" in error
        assert series['leakline_gateway_audit_failures_total{sink="eu"}'] >= 1
        assert series['leakline_gateway_audit_failing{sink="eu"}'] == 1.0
        assert not any(key.endswith('sink="us"}') or 'sink="none"' in key for key in series)

        # While the disk stays full the outage lasts: the retry waits for free space, rather than ending it
        # with a gap record that happens to fit into the last, partly used block of the log file.
        time.sleep(2.5 * events_module.AUDIT_RETRY_SECONDS)
        assert httpx.get(f"{env.url}/readyz").status_code == 503
        filler.unlink()
        deadline = time.monotonic() + 15
        while httpx.get(f"{env.url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the sink did not recover after the disk was freed"
            time.sleep(0.2)
        for n in range(9, 11):
            assert _chat(env, n).status_code == 200
        env.drain()

    assert _audit_series(env)['leakline_gateway_audit_failing{sink="eu"}'] == 0.0
    # One line when the sink fails and one when it recovers, naming the sink and the OS error, no traceback.
    guard = [r for r in caplog.records if r.name == "leakline.guard" and r.levelno >= 30]
    assert [(r.levelname, r.exc_info) for r in guard] == [("ERROR", None), ("WARNING", None)]
    failed = (
        f"audit sink of region 'eu' cannot be written: AuditIOError: {eu_sink_disk}: records could not be "
        f"written: {NO_SPACE}; its exchanges are not recorded until it can be written again (tried every 1 s; "
        "/readyz answers 503)"
    )
    assert guard[0].getMessage() == failed
    assert re.fullmatch(
        rf"audit sink of region 'eu' can be written again \(it failed from \S+Z: {NO_SPACE}\); "
        rf"{int(lost)} exchange record\(s\) lost; recorded as gateway.audit_gap",
        guard[1].getMessage(),
    ), guard[1].getMessage()
    assert not any(r.exc_info for r in caplog.records), [r.getMessage() for r in caplog.records if r.exc_info]

    # The log verifies (audit_records runs the verifier), and says what it lacks, and when.
    records = [r for r in audit_records(eu_sink_disk, env.tmp / "audit.key") if meta_of(r).get("kind")]
    kinds = [meta_of(r)["kind"] for r in records]
    assert kinds.count("gateway.audit_gap") == 1
    gap_at = kinds.index("gateway.audit_gap")
    written = [_question(r) for r in records if meta_of(r)["kind"] == "gateway.exchange"]
    # Every exchange is either in the log or counted as lost: none vanishes unseen.
    assert len(written) + lost == 11
    assert written[:3] == [0, 1, 2] and written[-2:] == [9, 10]
    assert all(q < 9 for q in written[:gap_at]) and all(q >= 9 for q in written[gap_at:])
    gap = meta_of(records[gap_at])
    assert gap["lost"] == {"exchange": lost} and gap["lost_records"] == lost
    assert (gap["sink"], gap["reason"], gap["actor"]) == ("eu", NO_SPACE, "gateway")
    # first_lost: when the earliest lost exchange happened (before the write that failed, which is failing_since).
    assert gap["first_lost"] <= gap["last_lost"] <= gap["written_at"] and gap["failing_since"] <= gap["written_at"]
    assert records[gap_at].payload == {k: gap[k] for k in records[gap_at].payload}

    # `leakline audit show` lists it, and `verify` still says the log is intact.
    key = str(env.tmp / "audit.key")
    shown = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "audit", "show", str(eu_sink_disk), "--key", key, "--kind",
         "gateway.audit_gap"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert "gateway.audit_gap" in shown.stdout and f'"lost_records": {int(lost)}' in shown.stdout
    verified = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "audit", "verify", str(eu_sink_disk), "--key", key],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert verified.returncode == 0 and verified.stdout.startswith("intact: "), verified.stdout + verified.stderr


def test_a_disk_full_at_start_up_names_the_configured_sink_path(tmp_path: Path) -> None:
    from tests.guard.test_serve_cli import _gateway_toml, _refused

    _gateway_toml(tmp_path)
    with _small_disk(tmp_path / "audit-eu") as disk:
        _fill(disk)
        stderr = _refused(tmp_path)
    # The path as configured (relative to leakline.toml), where the message said "in None".
    assert f"error: leakline.toml: audit.sinks.eu.path: cannot open the audit log in audit-eu ({NO_SPACE})" in stderr
    assert "in None" not in stderr


def _env_refusing(tmp: Path, started: list[Any]) -> Env:
    """The conftest's two-region gateway, with `[audit] on_failure = "refuse"`."""
    from leakline.guard.upstream import UpstreamThread
    from leakline.web.app import create_app
    from tests.guard.helpers import serve, write_settings

    eu = UpstreamThread().start()
    us = UpstreamThread().start()
    started.extend([eu, us])
    settings = write_settings(tmp, eu.upstream_url, us.upstream_url)
    settings = settings.model_copy(update={"audit": settings.audit.model_copy(update={"on_failure": "refuse"})})
    served = serve(create_app(settings))
    started.append(served)
    return Env(served, eu, us, settings, tmp)


@pytest.fixture
def refusing_env(eu_sink_disk: Path, tmp_path: Path) -> Iterator[Env]:
    started: list[Any] = []
    try:
        yield _env_refusing(tmp_path, started)
    finally:
        for item in reversed(started):
            item.stop()


def test_on_failure_refuse_answers_503_for_the_failing_region_only_until_its_sink_takes_writes(
    eu_sink_disk: Path, refusing_env: Env
) -> None:
    env = refusing_env
    assert _chat(env, 0).status_code == 200
    env.drain()
    filler = _fill(eu_sink_disk)
    # The failure is known from the first write that fails: this exchange is answered, its record lost.
    assert _chat(env, 1, pad=3000).status_code == 200
    env.drain()
    refused = _chat(env, 2)
    assert refused.status_code == 503
    assert refused.json() == {
        "error": {
            "message": "the audit log of region 'eu' cannot be written; try again later",
            "type": "server_error",
            "param": None,
            "code": "audit_unavailable",
        }
    }
    assert len(env.eu.upstream.requests) == 2  # exchange 2 was never forwarded
    us = httpx.post(
        f"{env.url}/v1/chat/completions",
        json={"model": "llama3.1:8b", "messages": [{"role": "user", "content": "question 3"}]},
        headers={"authorization": f"Bearer {KEYS['storefront']}", "x-vercel-ip-country": "US"},
        timeout=20,
    )
    assert us.status_code == 200  # region us audits to its own sink, which works
    metrics = httpx.get(f"{env.url}/metrics").text
    assert (
        'leakline_gateway_requests_total{endpoint="/v1/chat/completions",outcome="audit_unavailable",region="eu"} 1.0'
        in metrics
    )
    filler.unlink()
    deadline = time.monotonic() + 15
    while httpx.get(f"{env.url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the sink did not recover after the disk was freed"
        time.sleep(0.2)
    assert _chat(env, 4).status_code == 200
    env.drain()
    records = [r for r in audit_records(eu_sink_disk, env.tmp / "audit.key") if meta_of(r).get("kind")]
    kinds = [meta_of(r)["kind"] for r in records]
    assert kinds.count("gateway.audit_gap") == 1
    exchanges = {_question(r): meta_of(r)["status"] for r in records if meta_of(r)["kind"] == "gateway.exchange"}
    # Exchange 1 (answered) is lost, and the refusal of exchange 2 unless its small record fitted in the
    # log file's last, partly used block (the disk refuses new blocks, not bytes of one already held).
    assert exchanges[0] == 200 and exchanges[4] == 200 and exchanges.get(2, 503) == 503 and 1 not in exchanges
    assert meta_of(records[kinds.index("gateway.audit_gap")])["lost"] == {"exchange": 4 - len(exchanges)}
    assert _question(records[0]) == 0 and _question(records[-1]) == 4


def test_traffic_that_finds_the_disk_writable_again_ends_the_outage_with_its_gap_record(
    eu_sink_disk: Path, make_env: Any
) -> None:
    env: Env = make_env()
    filler = _fill(eu_sink_disk)
    for n in range(3):
        assert _chat(env, n, pad=3000).status_code == 200
    env.drain()
    assert httpx.get(f"{env.url}/readyz").status_code == 503
    filler.unlink()
    for n in range(3, 6):  # no wait for the retry: these exchanges' own flush finds the disk writable
        assert _chat(env, n).status_code == 200
    env.drain()
    assert httpx.get(f"{env.url}/readyz").status_code == 200
    records = [r for r in audit_records(eu_sink_disk, env.tmp / "audit.key") if meta_of(r).get("kind")]
    kinds = [meta_of(r)["kind"] for r in records]
    assert kinds.count("gateway.audit_gap") == 1
    (gap,) = [meta_of(r) for r in records if meta_of(r)["kind"] == "gateway.audit_gap"]
    written = sorted(_question(r) for r in records if meta_of(r)["kind"] == "gateway.exchange")
    assert gap["lost"] == {"exchange": 6 - len(written)} and gap["lost"]["exchange"] >= 3
    assert written[-3:] == [3, 4, 5]


def test_a_gateway_stopped_during_the_outage_says_what_it_lost_and_stops_cleanly(
    eu_sink_disk: Path, make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env: Env = make_env()
    _fill(eu_sink_disk)
    with caplog.at_level("INFO"):
        for n in range(2):
            assert _chat(env, n, pad=3000).status_code == 200
        env.drain()
        env.served.stop()
    assert not env.served.thread.is_alive()
    guard = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "leakline.guard" and r.levelno >= 30]
    assert guard[0][1].startswith("audit sink of region 'eu' cannot be written: AuditIOError: ")
    # Its last word on the sink, with what no gap record will say (the close's final checkpoint may fit in
    # the checkpoint file's last block, or fail: one more line without a traceback).
    stopping = [
        message
        for _, message in guard
        if re.fullmatch(
            rf"audit sink of region 'eu' still cannot be written when the gateway stops \({NO_SPACE}\): "
            r"2 exchange record\(s\) lost since \S+Z, and no gap record says so in the log",
            message,
        )
    ]
    assert len(stopping) == 1, guard
    assert all(level == "ERROR" for level, _ in guard), guard
    # Before: uvicorn's "Application shutdown failed" with the OSError's traceback from the final checkpoint.
    assert not any(r.exc_info for r in caplog.records), [r.getMessage() for r in caplog.records if r.exc_info]
    assert "Application shutdown failed" not in caplog.text

"""serve/pull over TLS 1.3 on 127.0.0.1 with a throwaway CA: protocol floor, residency, mTLS, resume."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leakline.weights.container import encrypt_file, verify_file
from leakline.weights.errors import ManifestMismatchError, ResidencyRefusedError, TransferError
from leakline.weights.keys import WeightsKey, generate_key
from leakline.weights.refusals import JsonLinesRefusalLog
from leakline.weights.transfer import (
    ResidencyDecision,
    WeightsServer,
    client_tls_context,
    decide_residency,
    load_served_model,
    pull,
    server_tls_context,
)
from tests.weights.helpers import tmpfs
from tests.weights.pki import ThrowawayCA

MIB = 1 << 20
MODEL = "llama-3.1-8b"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("site")
    ca = ThrowawayCA(root)
    key = generate_key()
    plain = root / "model.bin"
    plain.write_bytes(os.urandom(3 * MIB + 777))  # four 1 MiB segments
    encrypt_file(plain, root / "model.llw", key, model_id=MODEL, model_version="7")
    return {
        "root": root,
        "ca": ca,
        "key": key,
        "server": ca.issue("server", server=True),
        "eu_client": ca.issue("eu-client", server=False, region="eu-central"),
        "us_client": ca.issue("us-client", server=False, region="us-east"),
        "regionless_client": ca.issue("regionless-client", server=False),
    }


@contextlib.contextmanager
def running(site: dict[str, object], *, mutual: bool = False, path: Path | None = None) -> Iterator[WeightsServer]:
    root = site["root"]
    assert isinstance(root, Path)
    ca = site["ca"]
    assert isinstance(ca, ThrowawayCA)
    issued = site["server"]
    tls = server_tls_context(issued.cert, issued.key, ca=ca.path, require_client_cert=mutual)  # type: ignore[attr-defined]
    model = load_served_model(MODEL, path or root / "model.llw", ["eu-central", "eu-west"])
    server = WeightsServer([model], tls, JsonLinesRefusalLog(root / "refusals.jsonl"))
    with server:
        yield server


def client(site: dict[str, object], cert: str | None = None) -> ssl.SSLContext:
    ca = site["ca"]
    assert isinstance(ca, ThrowawayCA)
    if cert is None:
        return client_tls_context(ca=ca.path)
    issued = site[cert]
    return client_tls_context(ca=ca.path, cert=issued.cert, key=issued.key)  # type: ignore[attr-defined]


def key_of(site: dict[str, object]) -> WeightsKey:
    key = site["key"]
    assert isinstance(key, WeightsKey)
    return key


def refusals(site: dict[str, object]) -> list[dict[str, object]]:
    root = site["root"]
    assert isinstance(root, Path)
    return JsonLinesRefusalLog(root / "refusals.jsonl").read_all()


def test_tls13_client_gets_the_exact_bytes(site: dict[str, object], tmp_path: Path) -> None:
    with running(site) as server:
        result = pull(server.url, MODEL, tmp_path / "m.llw", verify_key=key_of(site).verify_key,
                      tls=client(site), region="eu-central")
    root = site["root"]
    assert isinstance(root, Path)
    assert (tmp_path / "m.llw").read_bytes() == (root / "model.llw").read_bytes()
    assert result.attempts == 1
    assert result.request_offsets == (0,)
    assert result.resumed_from_segment is None
    assert result.manifest_model_version == "7"
    assert verify_file(tmp_path / "m.llw", key_of(site)).model_id == MODEL
    assert not (tmp_path / "m.llw.part").exists()


def test_tls12_only_client_is_refused(site: dict[str, object], tmp_path: Path) -> None:
    ca = site["ca"]
    assert isinstance(ca, ThrowawayCA)
    old = ssl.create_default_context(cafile=str(ca.path))
    old.minimum_version = ssl.TLSVersion.TLSv1_2
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with running(site) as server:
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
            pytest.raises(ssl.SSLError) as caught,
        ):
            old.wrap_socket(raw, server_hostname="127.0.0.1")
        reason = str(caught.value).upper()
        assert "PROTOCOL_VERSION" in reason or "UNSUPPORTED_PROTOCOL" in reason
        with pytest.raises(TransferError, match="TLS handshake failed"):
            pull(server.url, MODEL, tmp_path / "never.llw", verify_key=key_of(site).verify_key, tls=old,
                 region="eu-central")
        # The server counts a failed handshake in the connection's thread, just after the client saw the alert.
        deadline = time.monotonic() + 10
        while server.httpd.handshake_failures < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.httpd.handshake_failures == 2
    assert not (tmp_path / "never.llw").exists()


def test_client_contexts_refuse_anything_below_tls13(site: dict[str, object]) -> None:
    assert client(site).minimum_version == ssl.TLSVersion.TLSv1_3


def test_disallowed_region_is_refused_and_audited(site: dict[str, object], tmp_path: Path) -> None:
    before = len(refusals(site))
    with running(site) as server, pytest.raises(ResidencyRefusedError, match="region 'us-east'"):
        pull(server.url, MODEL, tmp_path / "m.llw", verify_key=key_of(site).verify_key, tls=client(site),
             region="us-east")
    assert not (tmp_path / "m.llw").exists()
    assert not (tmp_path / "m.llw.part").exists()
    records = refusals(site)[before:]
    assert len(records) == 1
    record = records[0]
    assert record["event"] == "weights.pull.refused"
    assert record["model_id"] == MODEL
    assert record["reason"] == "region-not-allowed"
    assert record["claimed_region"] == "us-east"
    assert record["certified_region"] is None
    assert record["allowed_regions"] == ["eu-central", "eu-west"]
    assert record["peer"] == "127.0.0.1"


def test_unknown_region_is_refused(site: dict[str, object], tmp_path: Path) -> None:
    before = len(refusals(site))
    with running(site) as server, pytest.raises(ResidencyRefusedError, match="region is unknown"):
        pull(server.url, MODEL, tmp_path / "m.llw", verify_key=key_of(site).verify_key, tls=client(site), region=None)
    assert [r["reason"] for r in refusals(site)[before:]] == ["region-unknown"]


def test_mutual_tls_takes_the_region_from_the_certificate(site: dict[str, object], tmp_path: Path) -> None:
    before = len(refusals(site))
    with running(site, mutual=True) as server:
        with pytest.raises(TransferError):
            pull(server.url, MODEL, tmp_path / "a.llw", verify_key=key_of(site).verify_key, tls=client(site),
                 region="eu-central")  # no client certificate
        done = pull(server.url, MODEL, tmp_path / "b.llw", verify_key=key_of(site).verify_key,
                    tls=client(site, "eu_client"), region=None)
        assert done.bytes_received > 3 * MIB
        with pytest.raises(ResidencyRefusedError, match="differs from the certificate"):
            pull(server.url, MODEL, tmp_path / "c.llw", verify_key=key_of(site).verify_key,
                 tls=client(site, "us_client"), region="eu-central")
        with pytest.raises(ResidencyRefusedError, match="may not be sent to region 'us-east'"):
            pull(server.url, MODEL, tmp_path / "d.llw", verify_key=key_of(site).verify_key,
                 tls=client(site, "us_client"), region=None)
    records = refusals(site)[before:]
    assert [(r["reason"], r["certified_region"]) for r in records] == [
        ("region-conflict", "us-east"),
        ("region-not-allowed", "us-east"),
    ]
    assert records[0]["client_subject"] == "commonName=us-client"


class _Stop(Exception):
    pass


def test_interrupted_pull_resumes_from_the_last_whole_segment(site: dict[str, object], tmp_path: Path) -> None:
    dst = tmp_path / "m.llw"
    seen = 0

    def stop_after_two_and_a_half_mib(n: int) -> None:
        nonlocal seen
        seen += n
        if seen >= 2 * MIB + MIB // 2:
            raise _Stop

    with running(site) as server:
        with pytest.raises(_Stop):
            pull(server.url, MODEL, dst, verify_key=key_of(site).verify_key, tls=client(site), region="eu-central",
                 on_progress=stop_after_two_and_a_half_mib)
        part = tmp_path / "m.llw.part"
        assert part.exists()
        assert not dst.exists()
        kept = part.stat().st_size
        ranges: list[tuple[int, int]] = []
        result = pull(server.url, MODEL, dst, verify_key=key_of(site).verify_key, tls=client(site),
                      region="eu-central", on_range=lambda start, total: ranges.append((start, total)))
    header_length = int.from_bytes(dst.read_bytes()[9:13], "big")
    expected_segment = (kept - header_length) // (MIB + 16)
    assert expected_segment == 2
    assert result.resumed_from_segment == expected_segment
    assert result.request_offsets == (header_length + expected_segment * (MIB + 16),)
    # A progress bar starts at the resume offset, out of the whole file's size.
    assert ranges == [(header_length + expected_segment * (MIB + 16), dst.stat().st_size)]
    root = site["root"]
    assert isinstance(root, Path)
    assert dst.read_bytes() == (root / "model.llw").read_bytes()
    assert not part.exists()


class CuttingProxy:
    """A TCP relay on 127.0.0.1 that cuts its `cut_connection`-th connection after `cut_after` bytes downstream."""

    def __init__(self, target_port: int, *, cut_connection: int, cut_after: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port = target_port
        self.cut_connection = cut_connection
        self.cut_after = cut_after
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            limit = self.cut_after if self.connections == self.cut_connection else None
            threading.Thread(target=self._pump, args=(downstream, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, downstream, limit), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.listener.close()


class RestartingRelay(CuttingProxy):
    """A CuttingProxy whose listener goes away when it cuts (a server restarting: connections are refused)
    until `up()` listens again on the same port."""

    def _pump(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:  # type: ignore[override]
        if limit is None:
            super()._pump(src, dst, None)
            return
        sent = 0
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        # Refused from now on (shutdown wakes the accept thread, close alone would not); the cut below is what
        # the puller notices.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def up(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()


def test_a_restarting_server_is_waited_for_with_growing_delays(site: dict[str, object], tmp_path: Path) -> None:
    lines: list[str] = []
    slept: list[float] = []
    relay: RestartingRelay

    def on_retry(line: str) -> None:
        lines.append(line)
        if len(lines) == 2:
            relay.up()  # the server is back before the third try

    with running(site) as server:
        relay = RestartingRelay(server.port, cut_connection=2, cut_after=2 * MIB + 12345)
        try:
            result = pull(f"https://127.0.0.1:{relay.port}", MODEL, tmp_path / "m.llw",
                          verify_key=key_of(site).verify_key, tls=client(site), region="eu-central",
                          on_retry=on_retry, retry_delay_s=0.25, sleep=lambda s: (slept.append(s), time.sleep(s)))
        finally:
            relay.close()
    header_length = int.from_bytes((tmp_path / "m.llw").read_bytes()[9:13], "big")
    # The puller reads 1 MiB at a time, so two whole reads reached the disk; the resume point is the last whole
    # segment below them.
    boundary = header_length + (MIB + 16)
    assert result.attempts == 3
    assert result.request_offsets == (0, boundary, boundary)
    assert slept == [0.25, 0.5]
    assert lines == [
        f"pull of {MODEL!r}: the connection broke (IncompleteRead); retry 1 of 3 in 0.25 s "
        f"(m.llw.part has {2 * MIB} bytes)",
        f"pull of {MODEL!r}: https://127.0.0.1:{relay.port}: cannot connect: [Errno 111] Connection refused; "
        f"retry 2 of 3 in 0.5 s (m.llw.part has {boundary} bytes)",
    ]
    root = site["root"]
    assert isinstance(root, Path)
    assert (tmp_path / "m.llw").read_bytes() == (root / "model.llw").read_bytes()


def test_a_server_that_stays_away_fails_the_pull_after_its_retries_keeping_the_part(
    site: dict[str, object], tmp_path: Path
) -> None:
    lines: list[str] = []
    slept: list[float] = []
    with running(site) as server:
        relay = RestartingRelay(server.port, cut_connection=2, cut_after=2 * MIB + 12345)
        try:
            with pytest.raises(TransferError) as caught:
                pull(f"https://127.0.0.1:{relay.port}", MODEL, tmp_path / "m.llw",
                     verify_key=key_of(site).verify_key, tls=client(site), region="eu-central",
                     on_retry=lines.append, sleep=slept.append)
        finally:
            relay.close()
    part = tmp_path / "m.llw.part"
    assert caught.value.message == (
        f"pull of {MODEL!r} failed after 4 attempts: https://127.0.0.1:{relay.port}: cannot connect: [Errno 111] "
        f"Connection refused; {part} keeps the segments received so far"
    )
    assert caught.value.hint == "run the same pull again to resume"
    assert slept == [1.0, 2.0, 4.0]  # the default backoff
    assert [line.split("; ")[1].split(" (")[0] for line in lines] == [
        "retry 1 of 3 in 1 s", "retry 2 of 3 in 2 s", "retry 3 of 3 in 4 s"
    ]
    header_length = int.from_bytes(part.read_bytes()[9:13], "big")
    assert part.stat().st_size == header_length + (MIB + 16)  # cut back to the last whole segment
    assert not (tmp_path / "m.llw").exists()


def test_dropped_connection_is_resumed_by_segment_within_one_pull(site: dict[str, object], tmp_path: Path) -> None:
    with running(site) as server:
        proxy = CuttingProxy(server.port, cut_connection=2, cut_after=2 * MIB + 12345)
        try:
            result = pull(f"https://127.0.0.1:{proxy.port}", MODEL, tmp_path / "m.llw",
                          verify_key=key_of(site).verify_key, tls=client(site), region="eu-central",
                          retry_delay_s=0.01)
        finally:
            proxy.close()
    header_length = int.from_bytes((tmp_path / "m.llw").read_bytes()[9:13], "big")
    assert result.attempts == 2
    assert result.request_offsets[0] == 0
    resumed_at = result.request_offsets[1]
    assert resumed_at > 0
    assert (resumed_at - header_length) % (MIB + 16) == 0
    root = site["root"]
    assert isinstance(root, Path)
    assert (tmp_path / "m.llw").read_bytes() == (root / "model.llw").read_bytes()


def test_a_file_changed_on_the_server_is_discarded(site: dict[str, object], tmp_path: Path) -> None:
    root = site["root"]
    assert isinstance(root, Path)
    served = tmp_path / "served.llw"
    served.write_bytes((root / "model.llw").read_bytes())
    with running(site, path=served) as server:
        blob = bytearray(served.read_bytes())
        blob[len(blob) // 2] ^= 0xFF  # after the server loaded and announced the manifest
        served.write_bytes(bytes(blob))
        with pytest.raises(ManifestMismatchError, match="ciphertext SHA-256"):
            pull(server.url, MODEL, tmp_path / "m.llw", verify_key=key_of(site).verify_key, tls=client(site),
                 region="eu-central")
    assert not (tmp_path / "m.llw").exists()
    assert not (tmp_path / "m.llw.part").exists()


def test_residency_decision_fails_closed() -> None:
    allowed = frozenset({"eu-central"})
    assert decide_residency("eu-central", None, allowed, by_certificate=False).refusal is None
    assert decide_residency(None, "eu-central", allowed, by_certificate=True).refusal is None
    assert decide_residency("eu-central", "eu-central", allowed, by_certificate=True).refusal is None
    assert decide_residency(None, None, allowed, by_certificate=False).refusal == "region-unknown"
    assert decide_residency("eu-central", "us-east", allowed, by_certificate=True).refusal == "region-conflict"
    assert decide_residency("us-east", None, allowed, by_certificate=False).refusal == "region-not-allowed"
    assert decide_residency("eu-central", None, frozenset(), by_certificate=False).refusal == "region-not-allowed"
    # A certificate without a region SAN: the header must not stand in for it.
    assert decide_residency("eu-central", None, allowed, by_certificate=True) == ResidencyDecision(
        None, "region-unknown"
    )
    assert decide_residency(None, None, allowed, by_certificate=True).refusal == "region-unknown"


@pytest.mark.parametrize("mutual", [True, False], ids=["require_client_cert", "optional_client_cert"])
def test_a_certificate_without_a_region_cannot_borrow_the_header_region(
    site: dict[str, object], tmp_path: Path, mutual: bool
) -> None:
    before = len(refusals(site))
    with running(site, mutual=mutual) as server:
        with pytest.raises(ResidencyRefusedError) as caught:
            pull(server.url, MODEL, tmp_path / "m.llw", verify_key=key_of(site).verify_key,
                 tls=client(site, "regionless_client"), region="eu-central")
        # The same certificate without any header is refused for the same reason.
        with pytest.raises(ResidencyRefusedError):
            pull(server.url, MODEL, tmp_path / "n.llw", verify_key=key_of(site).verify_key,
                 tls=client(site, "regionless_client"), region=None)
    assert caught.value.message == (
        f"pull of {MODEL!r} refused by the server: the puller's region is unknown: its client certificate has "
        "no urn:leakline:region: SAN URI (with a client certificate the X-Leakline-Region header is not accepted)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    records = refusals(site)[before:]
    assert [(r["reason"], r["claimed_region"], r["certified_region"], r["client_subject"]) for r in records] == [
        ("region-unknown", "eu-central", None, "commonName=regionless-client"),
        ("region-unknown", None, None, "commonName=regionless-client"),
    ]


def audited_refusals(directory: Path, keys: Any) -> list[Any]:
    """The weights refusals in an audit log, verified and decrypted through leakline.audit's own API."""
    from leakline.audit import verify_log
    from leakline.audit.format import LOG_FILENAME
    from leakline.audit.log import read_data_key
    from leakline.audit.verify import Record, parse_header

    seen: list[Record] = []
    header = parse_header((directory / LOG_FILENAME).read_bytes()[:4096])
    verify_log(directory, data_key=read_data_key(directory, header, keys), on_record=seen.append)
    return [r for r in seen if r.meta.get("kind") == "weights.pull.refused"]


def test_refusals_go_into_the_encrypted_audit_log(site: dict[str, object], tmp_path: Path) -> None:
    from leakline.audit import AuditLog
    from leakline.audit.keys import generate_key_file
    from leakline.weights.refusals import AuditLogRefusalRecorder

    root = site["root"]
    ca = site["ca"]
    assert isinstance(root, Path)
    assert isinstance(ca, ThrowawayCA)
    keys = generate_key_file(tmp_path / "audit.key")
    log = AuditLog.open(tmp_path / "audit", keys)
    issued = site["server"]
    tls = server_tls_context(issued.cert, issued.key)  # type: ignore[attr-defined]
    model = load_served_model(MODEL, root / "model.llw", ["eu-central"])
    with WeightsServer([model], tls, AuditLogRefusalRecorder(log)) as server, pytest.raises(ResidencyRefusedError):
        pull(server.url, MODEL, tmp_path / "m.llw", verify_key=key_of(site).verify_key, tls=client(site),
             region="ap-south")
    log.close()
    refused = audited_refusals(tmp_path / "audit", keys)
    assert len(refused) == 1
    meta = refused[0].meta
    assert meta["actor"] == "weights.serve"
    assert {k: v for k, v in meta["meta"].items() if k != "at"} == {
        "model_id": MODEL,
        "reason": "region-not-allowed",
        "claimed_region": "ap-south",
        "certified_region": None,
        "allowed_regions": ["eu-central"],
    }
    assert refused[0].payload == {"peer": "127.0.0.1", "client_subject": None}


def write_serve_config(site: dict[str, object], directory: Path) -> None:
    """leakline.toml of a `weights serve` on 127.0.0.1 with TLS but no client certificates."""
    root = site["root"]
    issued = site["server"]
    assert isinstance(root, Path)
    (directory / "leakline.toml").write_text(
        f"""
[weights]
bind = "127.0.0.1"

[weights.tls]
cert = "{issued.cert}"
key = "{issued.key}"

[[weights.models]]
id = "{MODEL}"
path = "{root / 'model.llw'}"
allowed_regions = ["eu-central"]
""",  # type: ignore[attr-defined]
        encoding="utf-8",
    )


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_serve_and_pull_commands_with_leakline_toml(
    site: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess
    import sys

    from leakline.cli import main
    from leakline.weights.keys import write_keyfile

    root = site["root"]
    ca = site["ca"]
    assert isinstance(root, Path)
    assert isinstance(ca, ThrowawayCA)
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    write_serve_config(site, server_dir)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "leakline.cli", "weights", "serve", "--port", str(port)],
        cwd=server_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert server.poll() is None, server.stderr.read() if server.stderr else b""
            assert time.monotonic() < deadline, "serve did not start listening"
            time.sleep(0.05)
        write_keyfile(tmp_path / "site-key.json", key_of(site).without_signing_key())

        def pull_as(region: str, dst: str) -> tuple[int, str]:
            client_dir = tmp_path / region
            client_dir.mkdir()
            (client_dir / "leakline.toml").write_text(
                f'[weights]\nregion = "{region}"\n\n[weights.tls]\nca = "{ca.path}"\n', encoding="utf-8"
            )
            monkeypatch.chdir(client_dir)
            monkeypatch.setattr(sys, "argv", ["leakline", "weights", "pull", f"https://127.0.0.1:{port}", MODEL,
                                              dst, "--key", str(tmp_path / "site-key.json")])
            capsys.readouterr()
            with pytest.raises(SystemExit) as caught:
                main()
            return int(caught.value.code or 0), capsys.readouterr().err

        code, _err = pull_as("eu-central", "model.llw")
        assert code == 0
        assert (tmp_path / "eu-central" / "model.llw").read_bytes() == (root / "model.llw").read_bytes()
        code, err = pull_as("us-east", "model.llw")
        assert code == 1
        assert "may not be sent to region 'us-east'" in err
        assert not (tmp_path / "us-east" / "model.llw").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0  # SIGTERM is a clean stop
    from leakline.audit.keys import load_key_file

    audit_dir = server_dir / "leakline-audit"  # the default sink, as no [audit] section is configured
    refused = audited_refusals(audit_dir, load_key_file(audit_dir / "audit.key"))
    assert [(r.meta["meta"]["claimed_region"], r.meta["meta"]["reason"]) for r in refused] == [
        ("us-east", "region-not-allowed")
    ]


def test_a_refusal_that_cannot_be_audited_is_still_a_refusal(site: dict[str, object], tmp_path: Path) -> None:
    from leakline.weights.refusals import PullRefusal, RefusalRecorder

    class BrokenAuditLog(RefusalRecorder):
        def record(self, refusal: PullRefusal) -> None:
            raise OSError("disk full")

    root = site["root"]
    assert isinstance(root, Path)
    issued = site["server"]
    tls = server_tls_context(issued.cert, issued.key)  # type: ignore[attr-defined]
    model = load_served_model(MODEL, root / "model.llw", ["eu-central"])
    with WeightsServer([model], tls, BrokenAuditLog()) as server:
        with pytest.raises(TransferError, match="could not be recorded"):
            pull(server.url, MODEL, tmp_path / "m.llw", verify_key=key_of(site).verify_key, tls=client(site),
                 region="us-east")
        assert server.httpd.record_failures == 1
    assert not (tmp_path / "m.llw").exists()
    assert not (tmp_path / "m.llw.part").exists()


def test_resuming_mid_segment_is_refused_by_the_server(site: dict[str, object]) -> None:
    import http.client

    with running(site) as server:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=client(site), timeout=30)
        try:
            conn.request("GET", f"/v1/models/{MODEL}/data", headers={"Range": "bytes=1000-",
                                                                   "X-Leakline-Region": "eu-central"})
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
    assert response.status == 416
    assert b"segment boundaries" in body


def test_pull_refuses_a_directory_as_destination_before_connecting(tmp_path: Path) -> None:
    from leakline.weights.errors import WeightsUsageError

    (tmp_path / "served").mkdir()
    # Nothing listens on this port: the refusal must come before any connection is tried.
    with pytest.raises(WeightsUsageError, match=r"^.*served: is a directory$"):
        pull("https://127.0.0.1:9", "tiny", tmp_path / "served", verify_key=generate_key().verify_key,
             tls=ssl.create_default_context(), region=None, force=True)
    assert list(tmp_path.iterdir()) == [tmp_path / "served"]
    assert list((tmp_path / "served").iterdir()) == []


def test_pull_to_an_unwritable_path_is_a_usage_error_naming_it(site: dict[str, object], tmp_path: Path) -> None:
    from leakline.weights.errors import OutputError

    with running(site) as server:
        with pytest.raises(OutputError) as caught:
            pull(server.url, MODEL, Path("/proc/m.llw"), verify_key=key_of(site).verify_key, tls=client(site),
                 region="eu-central")
        assert caught.value.message == "/proc/m.llw: No such file or directory"
        with tmpfs(tmp_path / "small", "size=1m") as small, pytest.raises(OutputError) as caught:
            pull(server.url, MODEL, small / "m.llw", verify_key=key_of(site).verify_key, tls=client(site),
                 region="eu-central")
        assert caught.value.message == f"{small / 'm.llw'}: No space left on device"
        assert caught.value.exit_code == 2


def test_serve_on_a_busy_port_is_a_usage_error_naming_the_address(site: dict[str, object], tmp_path: Path) -> None:
    import subprocess
    import sys

    write_serve_config(site, tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        ran = subprocess.run(
            [sys.executable, "-m", "leakline.cli", "weights", "serve", "--port", str(port)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )
    assert (ran.returncode, ran.stderr) == (
        2,
        f"error: 127.0.0.1:{port}: Address already in use\nhint: set weights.port or pass --port to listen "
        "elsewhere\n",
    )


def test_the_pull_command_shows_progress_out_of_the_file_size(site: dict[str, object], tmp_path: Path) -> None:
    import subprocess
    import sys

    from leakline.weights.keys import write_keyfile

    ca = site["ca"]
    root = site["root"]
    assert isinstance(ca, ThrowawayCA)
    assert isinstance(root, Path)
    write_keyfile(tmp_path / "site-key.json", key_of(site).without_signing_key())
    (tmp_path / "leakline.toml").write_text(
        f'[weights]\nregion = "eu-central"\n\n[weights.tls]\nca = "{ca.path}"\n', encoding="utf-8"
    )
    with running(site) as server:
        ran = subprocess.run(
            [sys.executable, "-m", "leakline.cli", "weights", "pull", server.url, MODEL, "m.llw", "--key",
             "site-key.json"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "160"},  # Rich draws its bar as on a terminal
        )
    assert ran.returncode == 0, ran.stderr
    assert "3.0/3.0 MiB" in ran.stderr  # the last frame: the manifest's file size is the total
    assert "/? " not in ran.stderr.split("pulling")[-1]

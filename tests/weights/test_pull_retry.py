"""`pull`'s first request, for the manifest, is retried like the data requests: a pull started while the
serving site restarts (or behind a proxy answering 503) waits for it; a refusal still fails at once.

Real TLS 1.3 servers on 127.0.0.1 throughout: `WeightsServer`, and a front that misbehaves on chosen
connections (answers 503 over TLS, closes mid-handshake, resets) and relays the others to it.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from leakline.weights.container import encrypt_file
from leakline.weights.errors import ResidencyRefusedError, TransferError
from leakline.weights.keys import WeightsKey, generate_key, write_keyfile
from leakline.weights.refusals import JsonLinesRefusalLog
from leakline.weights.transfer import (
    PullResult,
    WeightsServer,
    client_tls_context,
    load_served_model,
    pull,
    server_tls_context,
)
from tests.weights.pki import Issued, ThrowawayCA

MIB = 1 << 20
MODEL = "mistral-retry"


@dataclass(frozen=True)
class Site:
    root: Path
    ca: ThrowawayCA
    key: WeightsKey
    server: Issued
    eu_client: Issued

    @property
    def model(self) -> Path:
        return self.root / "model.llw"

    def refusals(self) -> list[dict[str, object]]:
        return JsonLinesRefusalLog(self.root / "refusals.jsonl").read_all()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("retry-site")
    ca = ThrowawayCA(root)
    key = generate_key()
    (root / "model.bin").write_bytes(os.urandom(MIB + 501))  # two segments
    encrypt_file(root / "model.bin", root / "model.llw", key, model_id=MODEL, model_version="3")
    return Site(
        root, ca, key, ca.issue("server", server=True), ca.issue("eu-client", server=False, region="eu-central")
    )


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(site: Site, *, port: int = 0, mutual: bool = False) -> Iterator[WeightsServer]:
    tls = server_tls_context(site.server.cert, site.server.key, ca=site.ca.path, require_client_cert=mutual)
    model = load_served_model(MODEL, site.model, ["eu-central"])
    with WeightsServer([model], tls, JsonLinesRefusalLog(site.root / "refusals.jsonl"), port=port) as server:
        yield server


class FlakyFront:
    """A listener on 127.0.0.1 whose connections numbered in `bad` (1-based) misbehave as `mode`, while the
    others are relayed byte for byte to the real server on `target_port`.

    "503": completes the TLS handshake with the server's certificate and answers HTTP 503 in JSON, as a
    server that is still loading or a proxy without its upstream. "tls-eof": reads the ClientHello and closes
    (FIN) without a TLS alert. "reset": closes with SO_LINGER 0, so the client gets a TCP reset.
    """

    def __init__(self, target_port: int, tls: ssl.SSLContext, *, mode: str, bad: set[int]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.target_port = target_port
        self.tls = tls
        self.mode = mode
        self.bad = bad
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.connections in self.bad:
                threading.Thread(target=self._misbehave, args=(conn,), daemon=True).start()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, conn), daemon=True).start()

    def _misbehave(self, conn: socket.socket) -> None:
        if self.mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        if self.mode == "tls-eof":
            with contextlib.suppress(OSError):
                conn.recv(65536)  # unread data would turn the close into a reset
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            return
        with contextlib.suppress(OSError), self.tls.wrap_socket(conn, server_side=True) as tls:
            request = b""
            while b"\r\n\r\n" not in request and (data := tls.recv(65536)):
                request += data
            body = b'{"error": "starting", "message": "the model is still loading"}'
            tls.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def _pull_through_front(
    site: Site, tmp_path: Path, *, mode: str, bad: set[int]
) -> tuple[PullResult, list[str], list[float], int]:
    lines: list[str] = []
    slept: list[float] = []
    with serving(site) as server:
        front = FlakyFront(server.port, server_tls_context(site.server.cert, site.server.key), mode=mode, bad=bad)
        try:
            result = pull(f"https://127.0.0.1:{front.port}", MODEL, tmp_path / "m.llw",
                          verify_key=site.key.verify_key, tls=client_tls_context(ca=site.ca.path),
                          region="eu-central", on_retry=lines.append, sleep=slept.append)
        finally:
            front.close()
    return result, lines, slept, front.port


def test_a_manifest_request_answered_503_twice_is_retried_and_the_pull_succeeds(site: Site, tmp_path: Path) -> None:
    result, lines, slept, port = _pull_through_front(site, tmp_path, mode="503", bad={1, 2})
    assert lines == [
        f"pull of {MODEL!r}: manifest request: https://127.0.0.1:{port}: HTTP 503 the model is still loading; "
        f"retry {n} of 3 in {delay} s"
        for n, delay in ((1, 1), (2, 2))
    ]
    assert slept == [1.0, 2.0]  # the data requests' backoff
    assert result.manifest_attempts == 3
    assert (result.attempts, result.request_offsets) == (1, (0,))
    assert (tmp_path / "m.llw").read_bytes() == site.model.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.llw"]


@pytest.mark.parametrize(
    ("mode", "what"),
    [
        ("tls-eof", r"cannot connect: the TLS connection was closed \(UNEXPECTED_EOF_WHILE_READING\)"),
        # Whether the reset reaches the client's read of the ServerHello or its write of the ClientHello
        # depends on timing.
        ("reset", r"cannot connect: \[Errno (104\] Connection reset by peer|32\] Broken pipe)"),
    ],
)
def test_a_manifest_request_cut_before_any_answer_is_retried(
    site: Site, tmp_path: Path, mode: str, what: str
) -> None:
    result, lines, slept, port = _pull_through_front(site, tmp_path, mode=mode, bad={1})
    assert len(lines) == 1, lines
    assert re.fullmatch(
        rf"pull of {MODEL!r}: manifest request: https://127\.0\.0\.1:{port}: {what}; retry 1 of 3 in 1 s", lines[0]
    ), lines[0]
    assert slept == [1.0]
    assert result.manifest_attempts == 2
    assert (tmp_path / "m.llw").read_bytes() == site.model.read_bytes()


def test_a_data_request_answered_503_is_retried_like_a_dropped_connection(site: Site, tmp_path: Path) -> None:
    # Connection 1 fetches the manifest, 2 is the first data request.
    result, lines, slept, port = _pull_through_front(site, tmp_path, mode="503", bad={2})
    assert lines == [
        f"pull of {MODEL!r}: https://127.0.0.1:{port}: HTTP 503 the model is still loading; retry 1 of 3 in 1 s "
        "(m.llw.part has 0 bytes)"
    ]
    assert slept == [1.0]
    assert (result.manifest_attempts, result.attempts, result.request_offsets) == (1, 2, (0, 0))
    assert (tmp_path / "m.llw").read_bytes() == site.model.read_bytes()


def test_a_manifest_server_that_never_comes_fails_after_the_retries(site: Site, tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    lines: list[str] = []
    slept: list[float] = []
    with pytest.raises(TransferError) as caught:
        pull(f"https://127.0.0.1:{port}", MODEL, tmp_path / "m.llw", verify_key=site.key.verify_key,
             tls=client_tls_context(ca=site.ca.path), region="eu-central", on_retry=lines.append,
             sleep=slept.append)
    refused = f"https://127.0.0.1:{port}: cannot connect: [Errno 111] Connection refused"
    assert caught.value.message == f"pull of {MODEL!r} failed after 4 attempts to get the manifest: {refused}"
    assert caught.value.hint == "check that the server is running and that the URL is right"
    assert caught.value.exit_code == 1
    assert slept == [1.0, 2.0, 4.0]
    assert [line.split("; ")[-1] for line in lines] == ["retry 1 of 3 in 1 s", "retry 2 of 3 in 2 s",
                                                        "retry 3 of 3 in 4 s"]
    assert list(tmp_path.iterdir()) == []


def _refused_pull(site: Site, tmp_path: Path, url: str, *, tls: ssl.SSLContext, region: str | None,
                  model: str = MODEL) -> tuple[TransferError, list[str], list[float]]:
    lines: list[str] = []
    slept: list[float] = []
    with pytest.raises(TransferError) as caught:
        pull(url, model, tmp_path / "m.llw", verify_key=site.key.verify_key, tls=tls, region=region,
             on_retry=lines.append, sleep=slept.append)
    assert list(tmp_path.iterdir()) == []
    return caught.value, lines, slept


def test_a_residency_refusal_is_not_retried(site: Site, tmp_path: Path) -> None:
    before = len(site.refusals())
    with serving(site) as server:
        error, lines, slept = _refused_pull(site, tmp_path, server.url, tls=client_tls_context(ca=site.ca.path),
                                            region="us-east")
    assert isinstance(error, ResidencyRefusedError)
    assert error.message == f"pull of {MODEL!r} refused by the server: model {MODEL!r} may not be sent to region " \
        "'us-east'"
    assert (lines, slept) == ([], [])
    # The server saw one request: one refusal recorded.
    assert [(r["reason"], r["claimed_region"]) for r in site.refusals()[before:]] == [
        ("region-not-allowed", "us-east")
    ]


def test_an_unknown_model_is_not_retried(site: Site, tmp_path: Path) -> None:
    before = len(site.refusals())
    with serving(site) as server:
        error, lines, slept = _refused_pull(site, tmp_path, server.url, tls=client_tls_context(ca=site.ca.path),
                                            region="eu-central", model="no-such-model")
    assert error.message == "pull of 'no-such-model' failed: HTTP 404 no model 'no-such-model' is served here"
    assert (lines, slept) == ([], [])
    assert [(r["reason"], r["model_id"]) for r in site.refusals()[before:]] == [("unknown-model", "no-such-model")]


def test_tls_refusals_are_not_retried(
    site: Site, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other_ca = ThrowawayCA(tmp_path_factory.mktemp("other-ca"))  # not in tmp_path: the pull must leave it empty
    old = client_tls_context(ca=site.ca.path)
    old.minimum_version = ssl.TLSVersion.TLSv1_2
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with serving(site, mutual=True) as server:
        cases = {
            "no client certificate": client_tls_context(ca=site.ca.path),
            "server certificate not trusted": client_tls_context(ca=other_ca.path),
            "TLS 1.2 only": old,
        }
        seen = {name: _refused_pull(site, tmp_path, server.url, tls=tls, region=None) for name, tls in cases.items()}
        # One failed handshake per case, counted in the connection's thread just after the client saw it.
        deadline = time.monotonic() + 10
        while server.httpd.handshake_failures < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.httpd.handshake_failures == 3
    prefix = f"https://127.0.0.1:{server.port}: TLS handshake failed: "
    assert {name: (e.message, lines, slept) for name, (e, lines, slept) in seen.items()} == {
        "no client certificate": (prefix + "TLSV13_ALERT_CERTIFICATE_REQUIRED", [], []),
        "server certificate not trusted": (prefix + "CERTIFICATE_VERIFY_FAILED", [], []),
        "TLS 1.2 only": (prefix + "TLSV1_ALERT_PROTOCOL_VERSION", [], []),
    }


def test_the_pull_command_waits_for_a_server_started_after_it(site: Site, tmp_path: Path) -> None:
    write_keyfile(tmp_path / "site-key.json", site.key.without_signing_key())
    (tmp_path / "leakline.toml").write_text(
        f'[weights]\nregion = "eu-central"\n\n[weights.tls]\nca = "{site.ca.path}"\n', encoding="utf-8"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakline.cli", "weights", "pull", f"https://127.0.0.1:{port}", MODEL, "m.llw",
         "--key", "site-key.json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    err_lines: list[str] = []
    first_retry = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err_lines.append(line.rstrip("\n"))
            first_retry.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert first_retry.wait(60), "the pull never reported a retry"
        # The pull waits 1 s before its second try: the server is listening long before that.
        with serving(site, port=port):
            out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    assert proc.returncode == 0, err_lines
    assert err_lines == [
        f"pull of {MODEL!r}: manifest request: https://127.0.0.1:{port}: cannot connect: [Errno 111] Connection "
        "refused; retry 1 of 3 in 1 s"
    ]
    assert out.startswith(f"pulled {MODEL!r} version '3' → m.llw: ciphertext sha256 ")
    assert (tmp_path / "m.llw").read_bytes() == site.model.read_bytes()


def test_a_missing_client_certificate_is_always_a_refusal_not_a_closed_connection(
    site: Site, tmp_path: Path
) -> None:
    # In TLS 1.3 the client's request is on its way when the server refuses its (missing) certificate; a server
    # that closed with it unread sent a reset that could overtake the alert, and the client saw a bare EOF
    # (a third of the time here), which it retries as a server going down. 30 tries make that race show.
    with serving(site, mutual=True) as server:
        seen = {
            (error.message, tuple(lines))
            for error, lines, _slept in (
                _refused_pull(site, tmp_path, server.url, tls=client_tls_context(ca=site.ca.path), region=None)
                for _ in range(30)
            )
        }
    assert seen == {(f"https://127.0.0.1:{server.port}: TLS handshake failed: TLSV13_ALERT_CERTIFICATE_REQUIRED", ())}

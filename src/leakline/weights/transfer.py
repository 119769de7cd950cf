"""Moving encrypted weights between sites: a TLS 1.3-only HTTPS server and a resumable, verifying client.

`serve` exposes each configured model at two paths: ``/v1/models/<id>/manifest`` (the signed manifest and
the header, as JSON) and ``/v1/models/<id>/data`` (the container bytes; ``Range: bytes=N-`` resumes, and N
must be a segment boundary). Both TLS contexts set ``minimum_version = TLSv1_3``, so older handshakes fail
before any byte is served; with `require_client_cert` the server demands a client certificate (mutual TLS).
Every request for a model passes a residency check first: when the puller presents a verified client
certificate (always, with `require_client_cert`), its region comes from that certificate's SAN URI
``urn:leakline:region:<region>`` alone; only a puller without a certificate is taken at its
``X-Leakline-Region`` header. A region that is unknown, conflicting or not allowed for that model is refused
with 403 and recorded through a `RefusalRecorder` before the answer is sent.

`pull` verifies the manifest's signature with the trusted verify key before downloading, appends to
``DST.part``, resumes from the last whole segment after an interruption (retrying dropped connections and
failed reconnections by itself, after 1, 2, 4 s), checks the ciphertext SHA-256 against the signed manifest
and only then renames to DST. The manifest request is retried the same way, so a pull started while the
serving site restarts waits for it. Only transient failures are retried (`_TRANSIENT_STATUSES`, a refused,
reset or timed-out connection, a TLS connection closed mid-handshake); an answer that another try would only
repeat (a 4xx refusal, a failed certificate check, a TLS version refusal) fails at once. The transferred file
stays encrypted: pulling needs no decryption key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import quote, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from leakline.weights.container import (
    BackgroundSha256,
    ContainerStructure,
    Pins,
    check_manifest_against_structure,
    check_parent_directory,
    check_pins,
    read_structure,
)
from leakline.weights.errors import (
    ManifestMismatchError,
    OutputError,
    ResidencyRefusedError,
    TLSSetupError,
    TransferError,
    UnreachableError,
    WeightsConfigError,
    WeightsUsageError,
)
from leakline.weights.format import Header, Layout, make_layout, parse_header
from leakline.weights.manifest import SignedManifest, parse_manifest_json
from leakline.weights.refusals import PullRefusal, RefusalRecorder

REGION_HEADER = "X-Leakline-Region"
REGION_URI_PREFIX = "urn:leakline:region:"
CHUNK_SIZE = 1 << 20
HANDSHAKE_TIMEOUT_S = 30.0
IO_TIMEOUT_S = 60.0
LINGER_S = 2.0
"""How long a connection whose handshake was refused is kept half-open, so that its alert arrives."""
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY_S = 1.0
"""The wait before the first retry; it doubles for each next one (1, 2, 4 s), giving a restarting server time."""
MAX_MANIFEST_RESPONSE = 256 * 1024

ProgressCallback = Callable[[int], None]
RangeCallback = Callable[[int, int], None]
"""Called with (offset, file size) whenever a data request starts: a progress bar's position and total."""
RetryCallback = Callable[[str], None]
"""Called with one line saying what broke and when the next try comes."""
_TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
"""Answers of a server that is starting, overloaded, or behind a proxy that lost it: another try may succeed.
501 and 505 are left out: they say what the server cannot do, and it will not learn it in 7 s."""


# --- TLS -------------------------------------------------------------------------------------------------


def _load_chain(ctx: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except FileNotFoundError as exc:
        raise TLSSetupError(f"{exc.filename or cert}: no such file") from None
    except (ssl.SSLError, OSError) as exc:
        raise TLSSetupError(f"{cert} / {key}: cannot load the certificate chain and key: {exc}") from None


def _load_ca(ctx: ssl.SSLContext, ca: Path) -> None:
    try:
        ctx.load_verify_locations(cafile=str(ca))
    except FileNotFoundError:
        raise TLSSetupError(f"{ca}: no such CA file") from None
    except (ssl.SSLError, OSError) as exc:
        raise TLSSetupError(f"{ca}: cannot load the CA certificates: {exc}") from None


def server_tls_context(
    cert: Path, key: Path, *, ca: Path | None = None, require_client_cert: bool = False
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    _load_chain(ctx, cert, key)
    if require_client_cert and ca is None:
        raise TLSSetupError("mutual TLS needs a CA to verify client certificates", hint="set weights.tls.ca")
    if ca is not None:
        _load_ca(ctx, ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def client_tls_context(
    *, ca: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if ca is not None:
        _load_ca(ctx, ca)
    if cert is not None:
        if key is None:
            raise TLSSetupError(f"{cert}: a client certificate needs its key")
        _load_chain(ctx, cert, key)
    return ctx


# --- residency -------------------------------------------------------------------------------------------


def region_from_certificate(peercert: dict[str, Any] | None) -> str | None:
    """The region a verified client certificate vouches for (SAN URI urn:leakline:region:<r>), if any."""
    if not peercert:
        return None
    for kind, value in peercert.get("subjectAltName", ()):
        if kind == "URI" and isinstance(value, str) and value.startswith(REGION_URI_PREFIX):
            return value[len(REGION_URI_PREFIX) :]
    return None


@dataclass(frozen=True)
class ResidencyDecision:
    region: str | None
    refusal: str | None
    """None when allowed; otherwise "region-conflict", "region-unknown" or "region-not-allowed"."""


def decide_residency(
    claimed: str | None, certified: str | None, allowed: frozenset[str], *, by_certificate: bool
) -> ResidencyDecision:
    """Fail closed: a pull goes ahead only for a known, consistent region that the model allows.

    `by_certificate` is true when the puller presented a verified client certificate (or mutual TLS is
    required): then the certificate alone says where the puller is, and a certificate without a region SAN
    leaves the region unknown. The header is only a claim, so it never stands in for the certificate.
    """
    if certified is not None and claimed is not None and certified != claimed:
        return ResidencyDecision(None, "region-conflict")
    region = certified if by_certificate else claimed
    if region is None:
        return ResidencyDecision(None, "region-unknown")
    if region not in allowed:
        return ResidencyDecision(region, "region-not-allowed")
    return ResidencyDecision(region, None)


# --- server ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedModel:
    id: str
    path: Path
    allowed_regions: frozenset[str]
    structure: ContainerStructure = field(repr=False)
    file_size: int



def load_served_model(model_id: str, path: Path, allowed_regions: list[str]) -> ServedModel:
    try:
        with path.open("rb") as f:
            size = path.stat().st_size
            structure = read_structure(f, size, source=str(path))
    except FileNotFoundError:
        raise WeightsConfigError(f"weights.models: {model_id}: {path}: no such file") from None
    check_manifest_against_structure(structure)
    if structure.signed.manifest.model_id != model_id:
        raise WeightsConfigError(
            f"weights.models: {model_id}: {path} holds model {structure.signed.manifest.model_id!r}"
        )
    return ServedModel(model_id, path, frozenset(allowed_regions), structure, size)


class _Handler(BaseHTTPRequestHandler):
    server: WeightsHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "leakline-weights"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # access logs would carry peer addresses; refusals are recorded deliberately instead

    def _send_json(self, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc, sort_keys=True).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> tuple[str, str] | None:
        parts = urlsplit(self.path).path.split("/")
        if len(parts) == 5 and parts[:3] == ["", "v1", "models"] and parts[4] in ("manifest", "data"):
            return unquote(parts[3]), parts[4]
        return None

    def do_GET(self) -> None:
        route = self._route()
        if route is None:
            self._send_json(404, {"error": "not-found", "message": "unknown path"})
            return
        model_id, what = route
        model = self.server.models.get(model_id)
        peercert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        certified = region_from_certificate(peercert)
        claimed = self.headers.get(REGION_HEADER)
        if model is None:
            self._refuse(model_id, "unknown-model", claimed, certified, frozenset(), peercert, status=404)
            return
        by_certificate = bool(peercert) or self.server.tls.verify_mode == ssl.CERT_REQUIRED
        decision = decide_residency(claimed, certified, model.allowed_regions, by_certificate=by_certificate)
        if decision.refusal is not None:
            self._refuse(
                model_id, decision.refusal, claimed, certified, model.allowed_regions, peercert, status=403
            )
            return
        if what == "manifest":
            self._send_manifest(model)
        else:
            self._send_data(model)

    def _refuse(
        self,
        model_id: str,
        reason: str,
        claimed: str | None,
        certified: str | None,
        allowed: frozenset[str],
        peercert: dict[str, Any] | None,
        *,
        status: int,
    ) -> None:
        subject = None
        if peercert:
            subject = ",".join(f"{k}={v}" for rdn in peercert.get("subject", ()) for k, v in rdn)
        refusal = PullRefusal(
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            model_id=model_id,
            reason=reason,
            claimed_region=claimed,
            certified_region=certified,
            allowed_regions=tuple(sorted(allowed)),
            peer=self.client_address[0],
            client_subject=subject,
        )
        try:
            self.server.recorder.record(refusal)
        except Exception as exc:  # the audit log is down: still refuse, and say that it was not recorded
            self.server.count_record_failure()
            self._send_json(
                503,
                {"error": "audit-unavailable", "message": f"refused ({reason}), but the refusal could not be "
                 f"recorded ({exc.__class__.__name__}); try again later"},
            )
            return
        region = certified or claimed
        messages = {
            "unknown-model": f"no model {model_id!r} is served here",
            "region-unknown": (
                "the puller's region is unknown: its client certificate has no urn:leakline:region: SAN URI "
                f"(with a client certificate the {REGION_HEADER} header is not accepted)"
                if peercert
                else "the puller's region is unknown (no client certificate region, no region header)"
            ),
            "region-conflict": f"the claimed region {claimed!r} differs from the certificate's {certified!r}",
            "region-not-allowed": f"model {model_id!r} may not be sent to region {region!r}",
        }
        self._send_json(status, {"error": reason, "message": messages[reason]})

    def _send_manifest(self, model: ServedModel) -> None:
        signed = model.structure.signed
        self._send_json(
            200,
            {
                "manifest": signed.json_bytes.decode("utf-8"),
                "signature": base64.b64encode(signed.signature).decode("ascii"),
                "header": base64.b64encode(model.structure.header.raw).decode("ascii"),
                "file_size": model.file_size,
            },
        )

    def _send_data(self, model: ServedModel) -> None:
        start = 0
        requested = self.headers.get("Range")
        if requested is not None:
            unit, _, spec = requested.partition("=")
            first, dash, last = spec.partition("-")
            if unit.strip() != "bytes" or not dash or last or not first.isdigit():
                self._send_json(416, {"error": "bad-range", "message": "only 'Range: bytes=N-' is supported"})
                return
            start = int(first)
            if not model.structure.layout.is_boundary(start):
                self._send_json(416, {"error": "bad-range", "message": "resume offsets must be segment boundaries"})
                return
        self.send_response(206 if requested is not None else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(model.file_size - start))
        if requested is not None:
            self.send_header("Content-Range", f"bytes {start}-{model.file_size - 1}/{model.file_size}")
        self.end_headers()
        with model.path.open("rb") as f:
            f.seek(start)
            while chunk := f.read(CHUNK_SIZE):
                self.wfile.write(chunk)


def _close_lingering(sock: ssl.SSLSocket) -> None:
    """Close a connection whose handshake was refused so that the client still reads the TLS alert.

    In TLS 1.3 the client sends its request right after its own Finished, before it can know that its
    certificate was refused (or missing). Closing with that request unread makes the kernel send a reset,
    which can overtake the alert: the client then sees a bare EOF, which `pull` takes for a server going
    down and retries. So: send FIN after the alert, read what the client still sends, then close (Apache's
    lingering close), for at most `LINGER_S`.
    """
    with contextlib.suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_WR)  # also drops the TLS layer: what follows is plain reads
        sock.settimeout(LINGER_S)
        deadline = time.monotonic() + LINGER_S
        while time.monotonic() < deadline and sock.recv(CHUNK_SIZE):
            pass
    with contextlib.suppress(OSError):
        sock.close()


class WeightsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        models: dict[str, ServedModel],
        tls: ssl.SSLContext,
        recorder: RefusalRecorder,
    ) -> None:
        self.models = models
        self.tls = tls
        self.recorder = recorder
        self.handshake_failures = 0
        self.record_failures = 0
        self._failure_lock = threading.Lock()
        super().__init__(address, _Handler)

    def count_record_failure(self) -> None:
        with self._failure_lock:
            self.record_failures += 1

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, so a slow or hostile client cannot
        # hold up the accept loop; a failed handshake (e.g. a TLS 1.2 client) never reaches the handler.
        try:
            request.settimeout(HANDSHAKE_TIMEOUT_S)
            tls_socket = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        except (ssl.SSLError, OSError):
            with self._failure_lock:
                self.handshake_failures += 1
            with contextlib.suppress(OSError):
                request.close()
            return
        try:
            tls_socket.do_handshake()
            tls_socket.settimeout(IO_TIMEOUT_S)
        except (ssl.SSLError, OSError):
            with self._failure_lock:
                self.handshake_failures += 1
            _close_lingering(tls_socket)
            return
        try:
            _Handler(tls_socket, client_address, self)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass  # the peer went away mid-transfer; it resumes by segment
        finally:
            with contextlib.suppress(OSError):
                tls_socket.close()


class WeightsServer:
    """A running `serve`: start() in a background thread (tests), or serve_forever() (the CLI)."""

    def __init__(
        self,
        models: list[ServedModel],
        tls: ssl.SSLContext,
        recorder: RefusalRecorder,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        try:
            self.httpd = WeightsHTTPServer((host, port), {m.id: m for m in models}, tls, recorder)
        except OSError as exc:  # the port is taken, or the address is not this machine's
            shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise WeightsUsageError(
                f"{shown}: {exc.strerror or exc}", hint="set weights.port or pass --port to listen elsewhere"
            ) from None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        raw_host = self.httpd.server_address[0]
        host = raw_host if isinstance(raw_host, str) else raw_host.decode("ascii")
        shown = f"[{host}]" if ":" in host else host
        return f"https://{shown}:{self.port}"

    def start(self) -> WeightsServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="weights-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> WeightsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- client ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullResult:
    path: Path
    manifest_model_id: str
    manifest_model_version: str
    ciphertext_sha256: str
    resumed_from_offset: int | None
    """Where the first request of this call started when a .part file was reused; None for a fresh pull."""
    resumed_from_segment: int | None
    attempts: int
    request_offsets: tuple[int, ...]
    """Byte offset each data request of this call started at (all segment boundaries)."""
    bytes_received: int
    manifest_attempts: int = 1
    """Requests it took to get the manifest (more than 1 when the server was restarting or answered 5xx)."""


@dataclass(frozen=True)
class _Remote:
    signed: SignedManifest
    header: Header
    layout: Layout
    trailer: bytes
    file_size: int

    def segment_at(self, offset: int) -> int:
        if offset < self.layout.header_length:
            return 0
        return min(self.layout.count, (offset - self.layout.header_length) // self.layout.ct_segment_size)


class _Client:
    def __init__(self, base_url: str, tls: ssl.SSLContext, region: str | None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise WeightsUsageError(f"{base_url}: expected an https:// URL of a `leakline weights serve`")
        self.host = parts.hostname
        self.port = parts.port or 443
        self.tls = tls
        self.region = region

    def request(
        self, path: str, headers: dict[str, str]
    ) -> tuple[http.client.HTTPSConnection, http.client.HTTPResponse]:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=IO_TIMEOUT_S)
        sent = dict(headers)
        if self.region is not None:
            sent[REGION_HEADER] = self.region
        try:
            conn.request("GET", path, headers=sent)
            return conn, conn.getresponse()
        except ssl.SSLEOFError as exc:
            # The peer closed the connection without a TLS alert: what a server that is going down or
            # coming up does, not a refusal (a refusal sends an alert, e.g. certificate required).
            conn.close()
            raise UnreachableError(
                f"https://{self.host}:{self.port}: cannot connect: the TLS connection was closed "
                f"({exc.reason or exc})"
            ) from None
        except ssl.SSLError as exc:
            conn.close()
            raise TransferError(f"https://{self.host}:{self.port}: TLS handshake failed: {exc.reason or exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise UnreachableError(f"https://{self.host}:{self.port}: cannot connect: {exc}") from None


class _ServerTroubleError(TransferError):
    """A transient 5xx answer (`_TRANSIENT_STATUSES`): retried like an unreachable server."""


def _error_body(body: bytes) -> tuple[str, str]:
    """(error, message) of a JSON error body; empty strings for anything else (a proxy's HTML page)."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "", ""
    if not isinstance(doc, dict):
        return "", ""
    return str(doc.get("error", "")), str(doc.get("message", ""))


def _refusal(client: _Client, model_id: str, status: int, body: bytes) -> TransferError:
    reason, message = _error_body(body)
    # A 503 "audit-unavailable" is a refusal the server could not record: another try gets the same refusal.
    if status in _TRANSIENT_STATUSES and reason != "audit-unavailable":
        return _ServerTroubleError(f"https://{client.host}:{client.port}: HTTP {status} {message}".rstrip())
    if status == 403 and reason.startswith("region"):
        return ResidencyRefusedError(f"pull of {model_id!r} refused by the server: {message}")
    return TransferError(f"pull of {model_id!r} failed: HTTP {status} {message}".rstrip())


_RETRIED = (UnreachableError, _ServerTroubleError)


def _backoff(attempt: int, retry_delay_s: float) -> float:
    """The wait after failed attempt number `attempt` (1-based): 1×, 2×, 4×… `retry_delay_s`."""
    return retry_delay_s * (1 << (attempt - 1))


def _read_body(client: _Client, resp: http.client.HTTPResponse, limit: int) -> bytes:
    try:
        return resp.read(limit)
    except (OSError, http.client.HTTPException) as exc:  # cut mid-answer: as transient as a cut before it
        raise UnreachableError(
            f"https://{client.host}:{client.port}: the connection broke ({exc.__class__.__name__})"
        ) from None


def _request_manifest(client: _Client, model_id: str) -> bytes:
    conn, resp = client.request(f"/v1/models/{quote(model_id, safe='')}/manifest", {})
    with contextlib.closing(conn):
        body = _read_body(client, resp, MAX_MANIFEST_RESPONSE + 1)
    if resp.status != 200:
        raise _refusal(client, model_id, resp.status, body)
    return body


def _request_manifest_retrying(
    client: _Client,
    model_id: str,
    *,
    retries: int,
    retry_delay_s: float,
    sleep: Callable[[float], None],
    on_retry: RetryCallback | None,
) -> tuple[bytes, int]:
    """The manifest response's body and the number of attempts it took."""
    attempts = 0
    while True:
        attempts += 1
        try:
            return _request_manifest(client, model_id), attempts
        except _RETRIED as exc:
            if attempts > retries:
                raise TransferError(
                    f"pull of {model_id!r} failed after {attempts} attempts to get the manifest: {exc.message}",
                    hint="check that the server is running and that the URL is right",
                ) from None
            delay = _backoff(attempts, retry_delay_s)
            if on_retry is not None:
                on_retry(f"pull of {model_id!r}: manifest request: {exc.message}; retry {attempts} of {retries} "
                         f"in {delay:g} s")
            sleep(delay)


def _parse_remote(
    client: _Client, model_id: str, body: bytes, verify_key: Ed25519PublicKey, pins: Pins | None
) -> _Remote:
    source = f"{model_id} at https://{client.host}:{client.port}"
    try:
        doc = json.loads(body)
        json_bytes = doc["manifest"].encode("utf-8")
        signature = base64.b64decode(doc["signature"], validate=True)
        header_raw = base64.b64decode(doc["header"], validate=True)
        file_size = int(doc["file_size"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, binascii.Error):
        raise TransferError(f"{source}: the manifest response is malformed") from None
    signed = SignedManifest(parse_manifest_json(json_bytes, source=source), json_bytes, signature)
    signed.verify(verify_key, source=source)
    header = parse_header(header_raw, source=source)
    manifest = signed.manifest
    layout = make_layout(
        header.length, header.segment_size, manifest.ciphertext_size - header.length, source=source
    )
    check_manifest_against_structure(ContainerStructure(source, header, signed, layout))
    check_pins(manifest, pins, source=source)
    if manifest.model_id != model_id:
        raise ManifestMismatchError(f"{source}: the server sent model {manifest.model_id!r}", field="model_id")
    trailer = signed.trailer()
    if file_size != manifest.ciphertext_size + len(trailer):
        raise TransferError(f"{source}: the server's file size {file_size} does not match its manifest")
    return _Remote(signed, header, layout, trailer, file_size)


def _resume_point(part: Path, remote: _Remote) -> int:
    """The largest segment boundary up to which `part` already holds this very file's bytes."""
    if not part.exists():
        return 0
    size = part.stat().st_size
    with part.open("rb") as f:
        head = f.read(remote.header.length)
    if size > remote.file_size or head != remote.header.raw:
        return 0  # another file or another version: start over
    return remote.layout.boundary_at_or_before(size)


def _hash_prefix(part: Path, end: int, digest: BackgroundSha256) -> None:
    with part.open("rb") as f:
        remaining = end
        while remaining > 0:
            chunk = f.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)


def _receive(
    client: _Client,
    model_id: str,
    remote: _Remote,
    part: Path,
    start: int,
    digest: BackgroundSha256,
    on_progress: ProgressCallback | None,
    shown: Path,
) -> Exception | None:
    """Append the container from byte `start` to `part`; return the error that cut the transfer, if any."""
    headers = {"Range": f"bytes={start}-"} if start else {}
    conn, resp = client.request(f"/v1/models/{quote(model_id, safe='')}/data", headers)
    ct_end = remote.layout.ciphertext_size
    with contextlib.closing(conn), _part_output(part, "ab", shown) as out:
        if resp.status not in (200, 206):
            raise _refusal(client, model_id, resp.status, _read_body(client, resp, MAX_MANIFEST_RESPONSE))
        position = start
        while position < remote.file_size:
            try:
                chunk = resp.read(min(CHUNK_SIZE, remote.file_size - position))
            except (OSError, http.client.HTTPException) as exc:
                return exc  # the connection broke: resumable
            if not chunk:
                return http.client.IncompleteRead(b"", remote.file_size - position)
            digest.update(chunk[: max(0, ct_end - position)])
            try:
                out.write(chunk)
            except OSError as exc:  # our disk, not the network: retrying cannot help
                raise OutputError.of(shown, exc) from None
            position += len(chunk)
            if on_progress is not None:
                on_progress(len(chunk))
    return None


@contextlib.contextmanager
def _part_output(part: Path, mode: str, shown: Path) -> Iterator[BinaryIO]:
    """`part` opened for writing; failing to open or close it (flush) is an `OutputError` naming `shown`."""
    try:
        out = part.open(mode)
    except OSError as exc:
        raise OutputError.of(shown, exc) from None
    try:
        yield cast(BinaryIO, out)
    finally:
        try:
            out.close()
        except OSError as exc:
            raise OutputError.of(shown, exc) from None


def _drop_if_empty(part: Path) -> None:
    if part.exists() and part.stat().st_size == 0:
        part.unlink()  # nothing worth resuming


def pull(
    base_url: str,
    model_id: str,
    dst: Path,
    *,
    verify_key: Ed25519PublicKey,
    tls: ssl.SSLContext,
    region: str | None,
    pins: Pins | None = None,
    retries: int = DEFAULT_RETRIES,
    force: bool = False,
    on_progress: ProgressCallback | None = None,
    on_range: RangeCallback | None = None,
    on_retry: RetryCallback | None = None,
    retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> PullResult:
    """Download a model's container to `dst`, resuming a previous `dst.part`; verify before renaming.

    A broken connection, a server that cannot be reached (restarting) or answers 500/502/503/504 is retried
    `retries` times after 1×, 2×, 4×… `retry_delay_s`: the manifest request with its own `retries`, then the
    data requests, each from the last whole segment. TLS failures other than a connection closed mid-handshake
    and HTTP refusals are not retried: trying again would get the same answer.
    """
    # --force replaces a file; the rename onto a directory would fail only after the whole download.
    if dst.is_dir():
        raise WeightsUsageError(f"{dst}: is a directory", hint="give the path of the file to write")
    if dst.exists() and not force:
        raise WeightsUsageError(f"{dst}: already exists", hint="choose another path or pass --force")
    check_parent_directory(dst)
    client = _Client(base_url, tls, region)
    body, manifest_attempts = _request_manifest_retrying(
        client, model_id, retries=retries, retry_delay_s=retry_delay_s, sleep=sleep, on_retry=on_retry
    )
    remote = _parse_remote(client, model_id, body, verify_key, pins)
    part = dst.with_name(dst.name + ".part")
    first_start: int | None = None
    resumed = False
    attempts = 0
    received = 0
    offsets: list[int] = []
    while True:
        attempts += 1
        start = _resume_point(part, remote)
        offsets.append(start)
        if first_start is None:
            first_start = start
            resumed = part.exists() and start > 0
        digest = BackgroundSha256()
        interrupted: Exception | None
        try:
            if start:
                _hash_prefix(part, start, digest)
            with _part_output(part, "r+b" if part.exists() else "wb", dst) as out:
                out.truncate(start)
            if on_range is not None:
                on_range(start, remote.file_size)
            try:
                interrupted = _receive(client, model_id, remote, part, start, digest, on_progress, dst)
            except _RETRIED as exc:
                interrupted = exc
        except BaseException:
            digest.close()
            _drop_if_empty(part)
            raise
        received += part.stat().st_size - start
        if interrupted is None:
            break
        digest.close()
        what = (
            interrupted.message
            if isinstance(interrupted, _RETRIED)
            else f"the connection broke ({interrupted.__class__.__name__})"
        )
        if attempts > retries:
            _drop_if_empty(part)
            kept = f"; {part} keeps the segments received so far" if part.exists() else ""
            raise TransferError(
                f"pull of {model_id!r} failed after {attempts} attempts: {what}{kept}",
                hint="run the same pull again to resume" if kept else "check that the server is running",
            )
        delay = _backoff(attempts, retry_delay_s)
        if on_retry is not None:
            on_retry(
                f"pull of {model_id!r}: {what}; retry {attempts} of {retries} in {delay:g} s "
                f"({part.name} has {part.stat().st_size} bytes)"
            )
        sleep(delay)
    if not hmac.compare_digest(digest.hexdigest(), remote.signed.manifest.ciphertext_sha256):
        part.unlink()
        raise ManifestMismatchError(
            f"{model_id}: the received file does not match the signed manifest's ciphertext SHA-256; discarded",
            field="ciphertext_sha256",
        )
    with part.open("rb+") as f:
        f.seek(remote.layout.ciphertext_size)
        if f.read() != remote.trailer:
            part.unlink()
            raise ManifestMismatchError(f"{model_id}: the received trailer differs from the manifest", field="trailer")
    try:
        part.replace(dst)
    except OSError as exc:
        raise OutputError.of(dst, exc) from None
    return PullResult(
        path=dst,
        manifest_model_id=remote.signed.manifest.model_id,
        manifest_model_version=remote.signed.manifest.model_version,
        ciphertext_sha256=remote.signed.manifest.ciphertext_sha256,
        resumed_from_offset=first_start if resumed else None,
        resumed_from_segment=remote.segment_at(first_start) if resumed and first_start is not None else None,
        attempts=attempts,
        request_offsets=tuple(offsets),
        bytes_received=received,
        manifest_attempts=manifest_attempts,
    )

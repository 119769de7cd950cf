"""`leakline weights …`: keygen, encrypt, decrypt, verify, inspect, serve and pull.

Commands raise `WeightsError`s; the root CLI turns them into a message and exit code (0 success, 1 integrity
failure or refused transfer, 2 usage error; 128 + the signal number when SIGTERM or SIGHUP stopped a command
that writes a file, after its temporary output was removed). Heavy work is imported inside each command so that other
`leakline` commands start fast. Progress bars go to stderr, only when it is a terminal.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from leakline.weights.container import Inspection, Pins
    from leakline.weights.settings import WeightsSettings

app = typer.Typer(
    name="weights",
    help="Encrypt model weights at rest (segmented AES-256-GCM) and move them between sites over TLS 1.3.",
    no_args_is_help=True,
    add_completion=False,
)

KeyOption = Annotated[Path, typer.Option("--key", "-k", help="Key file written by `leakline weights keygen`.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace DST if it exists (only after success).")]
PinIdOption = Annotated[
    str | None, typer.Option("--model-id", help="Fail unless the file holds this model id.")
]
PinVersionOption = Annotated[
    str | None, typer.Option("--model-version", help="Fail unless the file holds this version (stops rollbacks).")
]
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="leakline.toml with the weights section.")]


@dataclass(frozen=True)
class _Bar:
    advance: Callable[[int], None]
    """Add this many bytes done."""
    restart: Callable[[int, int], None]
    """Set the position and the total (a pull's resume offset and the manifest's file size)."""
    say: Callable[[str], None]
    """Print one line on stderr above the bar, without tearing it."""


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[_Bar]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield _Bar(
            advance=lambda n: progress.advance(task, n),
            restart=lambda done, size: progress.update(task, completed=done, total=size),
            say=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True),
        )


class _Stopped(BaseException):
    """A SIGTERM or SIGHUP arrived. A BaseException, like KeyboardInterrupt, so that no `except Exception`
    on the way swallows it, while every cleanup (`atomic_output`'s delete of the partial file) still runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _stop_cleanly_on_signals() -> Iterator[None]:
    """SIGTERM (systemd, docker stop, kill) and SIGHUP (a closed terminal) unwind like Ctrl-C does.

    Their default action kills the process on the spot, leaving a command's temporary output behind (for
    `decrypt`, plaintext). Exit 128 + the signal number, as a shell reports a process killed by it.
    """

    def stop(signum: int, frame: object) -> None:
        raise _Stopped(signum)

    stops = (signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, stop) for signum in stops}
    try:
        yield
    except _Stopped as stopped:
        typer.echo(f"stopped by {signal.Signals(stopped.signum).name}", err=True)
        raise typer.Exit(128 + stopped.signum) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _pins(model_id: str | None, model_version: str | None) -> Pins | None:
    from leakline.weights.container import Pins

    if model_id is None and model_version is None:
        return None
    return Pins(model_id=model_id, model_version=model_version)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@app.command()
def keygen(
    keyfile: Annotated[Path, typer.Argument(help="Where to write the new key file (mode 0600).")],
    site_copy_of: Annotated[
        Path | None,
        typer.Option(
            "--site-copy-of",
            help="Instead of a new key, write a copy of this key file without its signing key "
            "(for sites that receive and decrypt, but do not publish).",
        ),
    ] = None,
) -> None:
    """Create a key file: an AES-256 key-encryption key and an Ed25519 manifest key pair."""
    from leakline.weights.keys import generate_key, load_keyfile, write_keyfile

    key = load_keyfile(site_copy_of).without_signing_key() if site_copy_of else generate_key()
    write_keyfile(keyfile, key)
    typer.echo(f"wrote {keyfile} (key id {key.key_id.hex()}, mode 0600)")


@app.command()
def encrypt(
    src: Annotated[Path, typer.Argument(help="Plaintext weights (safetensors, GGUF, …).")],
    dst: Annotated[Path, typer.Argument(help="Encrypted container to write.")],
    key: KeyOption,
    model_id: Annotated[str, typer.Option("--model-id", help="Model id, bound into every segment key.")],
    model_version: Annotated[str, typer.Option("--model-version", help="Model version, bound likewise.")] = "",
    force: ForceOption = False,
) -> None:
    """Encrypt SRC into DST in 1 MiB AES-256-GCM segments with a signed manifest."""
    from leakline.weights.container import encrypt_file
    from leakline.weights.keys import load_keyfile

    weights_key = load_keyfile(key)
    with _stop_cleanly_on_signals(), _progress("encrypting", _size(src)) as bar:
        signed = encrypt_file(
            src, dst, weights_key, model_id=model_id, model_version=model_version, force=force, on_progress=bar.advance
        )
    m = signed.manifest
    typer.echo(
        f"encrypted {src} → {dst}: model {m.model_id!r} version {m.model_version!r}, {m.segment_count} segments, "
        f"plaintext sha256 {m.plaintext_sha256}, ciphertext sha256 {m.ciphertext_sha256}"
    )


@app.command()
def decrypt(
    src: Annotated[Path, typer.Argument(help="Encrypted container.")],
    dst: Annotated[str, typer.Argument(help="Plaintext output; '-' streams to stdout (e.g. into a named pipe).")],
    key: KeyOption,
    model_id: PinIdOption = None,
    model_version: PinVersionOption = None,
    force: ForceOption = False,
) -> None:
    """Decrypt SRC to DST. DST appears only after every check passed; on failure it does not exist."""
    from leakline.weights.container import decrypt_file, decrypt_to_stream
    from leakline.weights.keys import load_keyfile

    weights_key = load_keyfile(key)
    pins = _pins(model_id, model_version)
    if dst == "-":
        with _stop_cleanly_on_signals():
            decrypt_to_stream(src, sys.stdout.buffer, weights_key, pins=pins)
            sys.stdout.buffer.flush()
        return
    if dst.endswith("/"):
        from leakline.weights.errors import WeightsUsageError

        # Path() drops the slash, so without this check the plaintext became a file named after the directory.
        raise WeightsUsageError(
            f"{dst}: names a directory (it ends with '/')", hint="give the path of the file to write"
        )
    with _stop_cleanly_on_signals(), _progress("decrypting", _size(src)) as bar:
        manifest = decrypt_file(src, Path(dst), weights_key, pins=pins, force=force, on_progress=bar.advance)
    typer.echo(
        f"decrypted {src} → {dst}: model {manifest.model_id!r} version {manifest.model_version!r}, "
        f"{manifest.plaintext_size} bytes, signature and digests verified"
    )


@app.command()
def verify(
    src: Annotated[Path, typer.Argument(help="Encrypted container.")],
    key: KeyOption,
    model_id: PinIdOption = None,
    model_version: PinVersionOption = None,
) -> None:
    """Check header, every segment, the manifest signature and both SHA-256 digests; write nothing."""
    from leakline.weights.container import verify_file
    from leakline.weights.keys import load_keyfile

    weights_key = load_keyfile(key)
    with _progress("verifying", _size(src)) as bar:
        manifest = verify_file(src, weights_key, pins=_pins(model_id, model_version), on_progress=bar.advance)
    typer.echo(
        f"ok: {src}: model {manifest.model_id!r} version {manifest.model_version!r}, "
        f"{manifest.segment_count} segments, {manifest.plaintext_size} bytes"
    )


@app.command()
def inspect(
    src: Annotated[Path, typer.Argument(help="Encrypted container.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the header and the manifest. No key needed; nothing secret is shown.

    Exits 1 (after showing everything) when the signature does not verify for the embedded signer or the
    manifest disagrees with the header or the layout: scripts run it as a keyless pre-check.
    """
    from leakline.weights.container import inspect_file

    inspection = inspect_file(src)
    if as_json:
        typer.echo(json.dumps(inspection.to_dict(), indent=2, sort_keys=True))
    else:
        _print_inspection(src, inspection)
    problems = []
    if not inspection.signature_valid:
        problems.append(f"{src}: the manifest signature is INVALID for the embedded signer")
    if inspection.consistency_error is not None:
        problems.append(inspection.consistency_error)
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)


def _print_inspection(src: Path, inspection: Inspection) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=str(src), show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    structure = inspection.structure
    header = structure.header
    rows = {
        "format_version": header.version,
        "header_length": header.length,
        "segment_size": header.segment_size,
        "key_id": header.key_id.hex(),
        "model_id": header.model_id,
        "model_version": header.model_version,
    }
    for name, value in rows.items():
        table.add_row(f"header.{name}", str(value))
    table.add_row("segments", str(structure.layout.count))
    for name, value in structure.signed.manifest.to_dict().items():
        table.add_row(f"manifest.{name}", str(value))
    table.add_row(
        "signature",
        "valid for the embedded signer (trust needs the publisher's key: use verify)"
        if inspection.signature_valid
        else "INVALID",
    )
    table.add_row("consistency", inspection.consistency_error or "header, layout and manifest agree")
    Console().print(table)


def _load_weights_settings(config: Path) -> tuple[WeightsSettings, Path]:
    from leakline.config import load_settings

    settings = load_settings(config, required=True)
    return settings.weights, config.resolve().parent


def _rel(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() else base / path


@app.command()
def serve(
    config: ConfigOption = Path("leakline.toml"),
    port: Annotated[int | None, typer.Option("--port", help="Override weights.port.")] = None,
) -> None:
    """Serve the models listed in weights.models of leakline.toml over TLS 1.3 only, with residency checks."""
    from leakline.audit import default_audit_log
    from leakline.config import load_settings
    from leakline.weights.errors import WeightsConfigError
    from leakline.weights.refusals import AuditLogRefusalRecorder
    from leakline.weights.transfer import WeightsServer, load_served_model, server_tls_context

    full_settings = load_settings(config, required=True)
    settings, base = full_settings.weights, config.resolve().parent
    cert, tls_key = _rel(base, settings.tls.cert), _rel(base, settings.tls.key)
    if cert is None or tls_key is None:
        raise WeightsConfigError(f"{config}: weights.tls.cert and weights.tls.key are required to serve")
    if not settings.models:
        raise WeightsConfigError(f"{config}: weights.models: no models to serve")
    tls = server_tls_context(
        cert, tls_key, ca=_rel(base, settings.tls.ca), require_client_cert=settings.tls.require_client_cert
    )
    models = [load_served_model(m.id, base / m.path, m.allowed_regions) for m in settings.models]
    audit = default_audit_log(full_settings)
    try:
        server = WeightsServer(
            models, tls, AuditLogRefusalRecorder(audit), host=settings.bind,
            port=settings.port if port is None else port,
        )
    except BaseException:
        audit.close()  # e.g. the port is taken: the log still ends with a signed checkpoint
        raise
    typer.echo(f"serving {len(models)} model(s) on {server.url} (TLS 1.3 only); refusals → audit log", err=True)

    def stop(signum: int, frame: object) -> None:
        # SIGTERM (systemd, docker stop) is a normal stop: unwind so the audit log is closed with a final
        # signed checkpoint, and exit 0.
        raise typer.Exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        server.httpd.server_close()
        audit.close()


@app.command()
def pull(
    url: Annotated[str, typer.Argument(help="Base URL of the serving site, e.g. https://weights.eu.example:8443")],
    model: Annotated[str, typer.Argument(help="Model id to pull.")],
    dst: Annotated[Path, typer.Argument(help="Where to store the (still encrypted) container.")],
    key: KeyOption,
    config: ConfigOption = Path("leakline.toml"),
    model_version: PinVersionOption = None,
    force: ForceOption = False,
) -> None:
    """Pull a model over TLS 1.3, resuming DST.part, verifying the signed manifest before renaming."""
    from leakline.weights.container import Pins
    from leakline.weights.keys import load_keyfile
    from leakline.weights.transfer import client_tls_context
    from leakline.weights.transfer import pull as pull_model

    weights_key = load_keyfile(key)
    settings, base = _load_weights_settings(config)
    tls = client_tls_context(
        ca=_rel(base, settings.tls.ca), cert=_rel(base, settings.tls.cert), key=_rel(base, settings.tls.key)
    )
    with _stop_cleanly_on_signals(), _progress(f"pulling {model}", None) as bar:
        result = pull_model(
            url,
            model,
            dst,
            verify_key=weights_key.verify_key,
            tls=tls,
            region=settings.region,
            pins=Pins(model_id=model, model_version=model_version),
            force=force,
            on_progress=bar.advance,
            on_range=bar.restart,
            on_retry=bar.say,
        )
    resumed = (
        f", resumed at segment {result.resumed_from_segment}" if result.resumed_from_segment is not None else ""
    )
    typer.echo(
        f"pulled {model!r} version {result.manifest_model_version!r} → {dst}: ciphertext sha256 "
        f"{result.ciphertext_sha256} matches the signed manifest{resumed}"
    )

"""`leakline audit`: keygen, append, verify, show, export, rotate-key and prove.

Exit codes follow the issue's contract: 0 when the log is intact, 1 when tampering is found (the
first bad record and the kind of damage are named), 2 for usage errors. Errors are raised as
`LeaklineError`s and turned into output in one place (`leakline.cli._fatal`); only `verify --format
json` prints its own failure document, so machines get JSON in every case.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:
    from leakline.audit.keys import AuditKeys, DataKeys
    from leakline.audit.verify import Record

app = typer.Typer(
    name="audit",
    help="The encrypted, tamper-evident audit log.",
    no_args_is_help=True,
    add_completion=False,
)

LogDir = Annotated[Path, typer.Argument(help="The log directory.", show_default=False)]
KeyOption = Annotated[
    Path | None,
    typer.Option("--key", help="Key file from `leakline audit keygen` (default: $LEAKLINE_AUDIT_KEY)."),
]


def _keys(path: Path | None) -> AuditKeys:
    from leakline.audit.keys import load_keys

    return load_keys(path)


def _data_key(directory: Path, keys: AuditKeys) -> DataKeys:
    from leakline.audit.log import read_data_key
    from leakline.audit.verify import log_paths, parse_header

    log_path, _ = log_paths(directory)
    with log_path.open("rb") as handle:
        head = handle.read(4096)
    return read_data_key(directory, parse_header(head, file=str(log_path)), keys)


def _parse_time(value: str | None, option: str) -> int | None:
    from leakline.audit.errors import AuditUsageError

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AuditUsageError(f"{option}: {value!r} is not an ISO 8601 time (e.g. 2025-05-01T10:02:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # leakline's times are UTC
    return int(moment.timestamp() * 1_000_000)


def _parse_payload(text: str) -> Any:
    from leakline.audit.errors import AuditUsageError

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AuditUsageError(f"--json: not valid JSON at character {exc.pos}: {exc.msg}") from None


@app.command()
def keygen(
    keyfile: Annotated[Path, typer.Argument(help="Where to write the new key file (mode 0600).")],
) -> None:
    """Create a key-encryption key and an Ed25519 signing key in KEYFILE."""
    from leakline.audit.keys import generate_key_file, public_key_fingerprint

    keys = generate_key_file(keyfile)
    typer.echo(f"wrote {keyfile} (mode 0600)")
    typer.echo(f"key-encryption key id: {keys.wrapper.key_id}")
    typer.echo(f"signing key: {public_key_fingerprint(keys.signer.public_key)}")


@app.command()
def append(
    log: Annotated[Path, typer.Option("--log", help="The log directory (created if missing).")],
    kind: Annotated[str, typer.Option("--kind", help="What happened, e.g. incident.dpo_called.")],
    actor: Annotated[str, typer.Option("--actor", help="Who did it.")],
    payload: Annotated[str, typer.Option("--json", help="The payload, a JSON value (stored encrypted).")],
    key: KeyOption = None,
    region: Annotated[str | None, typer.Option("--region", help="Region of the record's subject.")] = None,
    incident: Annotated[str | None, typer.Option("--incident", help="Incident id.")] = None,
) -> None:
    """Append one record (for people and scripts recording manual steps)."""
    from leakline.audit.log import AuditLog, CommitPolicy

    value = _parse_payload(payload)
    keys = _keys(key)
    # Checked here, not in AuditLog.open: API callers (serve) name the config key with the OSError themselves.
    if log.exists() and not log.is_dir():
        from leakline.audit.errors import LogNotFound

        raise LogNotFound(f"{log}: exists and is not a directory")
    try:
        with AuditLog.open(
            log, keys, region=region, policy=CommitPolicy(mode="record"), background=False
        ) as opened:
            seq = opened.append(kind=kind, actor=actor, region=region, incident=incident, payload=value)
    except OSError as exc:  # cannot create or write the log: read-only, full, or a path that cannot be one
        from leakline.audit.errors import AuditUsageError

        raise AuditUsageError(f"{exc.filename or log}: {exc.strerror or exc}") from None
    typer.echo(str(seq))


@app.command()
def verify(
    directory: LogDir,
    key: Annotated[
        Path | None, typer.Option("--key", help="Also decrypt and authenticate every payload with this key.")
    ] = None,
    output_format: Annotated[Literal["text", "json"], typer.Option("--format", help="text or json.")] = "text",
    trusted: Annotated[
        Path | None,
        typer.Option("--trusted", help="A checkpoint (file) kept from an earlier verification; must still be there."),
    ] = None,
) -> None:
    """Check signatures, chain, Merkle roots and sequence; exit 1 naming the first bad record."""
    from leakline.audit.errors import AuditIntegrityError, AuditUsageError
    from leakline.audit.verify import verify_log

    data_key = _data_key(directory, _keys(key)) if key is not None else None
    trusted_bytes = None
    if trusted is not None:
        try:
            trusted_bytes = trusted.read_bytes()
        except OSError as exc:
            raise AuditUsageError(f"{trusted}: cannot read: {exc.strerror}") from None
    try:
        report = verify_log(directory, data_key=data_key, trusted=trusted_bytes)
    except AuditIntegrityError as error:
        if output_format == "json":
            typer.echo(json.dumps({
                "intact": False,
                "damage": error.damage,
                "seq": error.seq,
                "offset": error.offset,
                "file": error.file,
                "message": error.message,
            }, indent=2))
            raise typer.Exit(error.exit_code) from None
        raise
    if output_format == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    typer.echo(f"intact: {report.records} records in {directory} (log {report.log_id}, "
               f"region {report.region or '-'})")
    if report.last_checkpoint:
        cp = report.last_checkpoint
        typer.echo(f"last checkpoint #{cp.number}: {cp.tree_size} records at {cp.time}, root {cp.root}, "
                   f"signed by {cp.signer}")
    else:
        typer.echo("no signed checkpoint yet")
    typer.echo(f"payloads authenticated: {report.decrypted}" if key is not None
               else "payloads not checked (integrity only; pass --key to decrypt and authenticate)")
    for warning in report.warnings:
        typer.echo(f"warning: {warning}")


def _collect(
    directory: Path, key: Path | None, since: str | None, until: str | None, kind: str | None,
    incident: str | None,
) -> list[Record]:
    from leakline.audit.verify import verify_log

    since_us, until_us = _parse_time(since, "--since"), _parse_time(until, "--until")
    data_key = _data_key(directory, _keys(key))
    selected: list[Record] = []

    def keep(record: Record) -> None:
        if since_us is not None and record.time_us < since_us:
            return
        if until_us is not None and record.time_us > until_us:
            return
        if kind is not None and record.meta.get("kind") != kind:
            return
        if incident is not None and record.meta.get("incident") != incident:
            return
        selected.append(record)

    verify_log(directory, data_key=data_key, on_record=keep)
    return selected


Since = Annotated[str | None, typer.Option("--since", help="Only records at or after this ISO 8601 time.")]
Until = Annotated[str | None, typer.Option("--until", help="Only records at or before this ISO 8601 time.")]
Kind = Annotated[str | None, typer.Option("--kind", help="Only records of this kind.")]
Incident = Annotated[str | None, typer.Option("--incident", help="Only records of this incident.")]


@app.command()
def show(
    directory: LogDir, key: KeyOption = None, since: Since = None, until: Until = None, kind: Kind = None,
    incident: Incident = None,
) -> None:
    """Verify, decrypt and print records (one line each), filtered by time, kind or incident."""
    for record in _collect(directory, key, since, until, kind, incident):
        meta = record.meta
        label = meta.get("kind", record.type.name.lower())
        parts = [f"{record.seq:>8}", record.time, label, f"actor={meta.get('actor', '-')}"]
        if "region" in meta:
            parts.append(f"region={meta['region']}")
        if "incident" in meta:
            parts.append(f"incident={meta['incident']}")
        if record.payload is not None:
            parts.append(json.dumps(record.payload, ensure_ascii=False, sort_keys=True))
        typer.echo("  ".join(parts))


@app.command()
def export(
    directory: LogDir,
    key: KeyOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here (mode 0600), not stdout.")] = None,
    since: Since = None, until: Until = None, kind: Kind = None, incident: Incident = None,
) -> None:
    """Verify, decrypt and write records as JSON lines."""
    from leakline.audit.keys import write_private_file

    lines = [json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True)
             for r in _collect(directory, key, since, until, kind, incident)]
    text = "".join(line + "\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
        return
    write_private_file(output, text.encode("utf-8"), holds="an earlier export", hint="choose another path for -o")
    typer.echo(f"wrote {len(lines)} records to {output}", err=True)


@app.command("rotate-key")
def rotate_key(
    directory: LogDir,
    key: Annotated[Path, typer.Option("--key", help="The current key file.")],
    new_key: Annotated[Path, typer.Option("--new-key", help="The new key file (from keygen).")],
) -> None:
    """Start a new data key under a new key-encryption key (older data keys re-wrapped); hand signing over."""
    from leakline.audit.rotate import rotate_keys

    result = rotate_keys(directory, _keys(key), _keys(new_key))
    typer.echo(
        f"new data key from epoch {result.new_data_key_from_epoch}; all data keys wrapped under key-encryption key "
        f"{result.new_kek_id} (was {result.old_kek_id})"
    )
    if result.signing_rotated_at is not None:
        typer.echo(f"signing key rotated at record {result.signing_rotated_at}")
    typer.echo(
        "old records stay readable with the new key; records from now on cannot be read with the old key, "
        "even with a copy of the old datakey.json; retire the old key file and back up datakey.json"
    )


@app.command()
def prove(
    directory: LogDir,
    seq: Annotated[int, typer.Argument(help="Sequence number of the record.")],
) -> None:
    """Print an RFC 6962 inclusion proof of record SEQ in the last signed checkpoint (JSON)."""
    from leakline.audit.proof import inclusion_proof_for

    typer.echo(json.dumps(inclusion_proof_for(directory, seq).to_dict(), indent=2))

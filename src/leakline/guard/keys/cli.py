"""`leakline gateway-keys add|list|revoke`: the gateway's client keys kept in leakline's database.

`add` prints the new key once, on stdout alone (so `KEY=$(leakline gateway-keys add storefront)` works) and
never again: only its SHA-256 is stored. Adding and revoking go to the audit log (`gateway.key_added`,
`gateway.key_revoked`: the label, the client and the digest's first 12 hex digits, never the key), appended
inside the transaction: a log that cannot be written leaves the table as it was. A running gateway takes a
change within `[gateway] database_keys_refresh_seconds`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from leakline.audit.sinks import AuditRouter
    from leakline.config import Settings
    from leakline.guard.keys.models import GatewayKeyRead

app = typer.Typer(add_completion=False, no_args_is_help=True)

ConfigOption = Annotated[Path, typer.Option("--config", help="leakline.toml to read.")]
DEFAULT_CONFIG = Path("leakline.toml")


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text for people, json for machines.")]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@contextmanager
def _audited(settings: Settings) -> Iterator[AuditRouter]:
    """The audit log, opened before the database is touched: a log that cannot be written refuses the change
    (its record is appended inside the transaction, which commits only after)."""
    from leakline.audit.sinks import default_audit_log

    router = default_audit_log(settings)
    try:
        yield router
    finally:
        router.close()


def _record(router: AuditRouter, *, kind: str, actor: str, key: GatewayKeyRead) -> None:
    payload: dict[str, Any] = {"label": key.label, "client": key.client, "digest_prefix": key.digest_prefix}
    if key.models:
        payload["models"] = key.models
    if key.regions:
        payload["regions"] = key.regions
    router.append(kind=kind, actor=actor, payload=payload, meta={"client": key.client, "label": key.label})
    router.flush()


@app.command("add")
def add_command(
    client: Annotated[str, typer.Argument(help="The [[clients]] name the key authenticates as.")],
    label: Annotated[
        str | None,
        typer.Option("--label", help="A name for the key in lists and audit records (default: <client>-<8 hex>)."),
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who adds it (for the audit log).")] = "cli",
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="A model this key may use (repeat; default: every model its client may)."),
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", help="A region this key may use (repeat; default: every region its client may)."),
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Make a new key for a client and print it once (only its SHA-256 is stored). --model and --region
    narrow what this key may use within what its client may."""
    from leakline.guard.keys import service
    from leakline.incidents.runtime import load_config, store_for

    settings = load_config(config)
    source = settings.source or str(config)
    entry = service.check_client(clients=settings.clients, name=client, source=source)
    models, regions = service.check_scope(
        client=entry, models=model or (), regions=region or (), configured_regions=list(settings.regions), source=source
    )
    if label is not None:
        service.check_label(label)
    by = service.check_by(by)
    store = store_for(settings)
    with _audited(settings) as router, store.transaction() as session:
        record, key = service.add_key(
            session=session, client=client, label=label, created_by=by, now=_now(), models=models, regions=regions
        )
        _record(router, kind="gateway.key_added", actor=by, key=record)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps({"key": key, **record.model_dump(mode="json")}, indent=2))
    else:
        typer.echo(key)
    typer.echo(
        f"key {record.label} of client {record.client!r} added; it is shown this once. A running gateway "
        f"accepts it within {settings.gateway.database_keys_refresh_seconds:g} s.",
        err=True,
    )


@app.command("list")
def list_command(
    client: Annotated[str | None, typer.Option("--client", help="Only this client's keys.")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """The keys kept in the database, revoked ones too (labels and digest prefixes, never keys)."""
    from leakline.guard.keys import service
    from leakline.incidents.runtime import load_config, store_for

    settings = load_config(config)
    with store_for(settings).transaction() as session:
        rows = service.list_keys(session=session, client=client)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    if not rows:
        typer.echo("no gateway keys in the database" + (f" for client {client!r}" if client else ""))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # Labels are copied into `revoke`: never cut. Times to the minute (the JSON output has them whole).
    table = Table(title="Gateway keys", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("label", no_wrap=True, min_width=max(len(row.label) for row in rows))
    table.add_column("client", no_wrap=True, min_width=max(len(row.client) for row in rows))
    table.add_column("sha256", no_wrap=True, min_width=13)
    table.add_column("created (UTC), by", min_width=16, overflow="fold")
    # What the key may use besides its client's limits; wraps between names rather than cutting one.
    table.add_column("limits", min_width=8, overflow="fold")
    table.add_column("state", no_wrap=True, min_width=7)
    for row in rows:
        state = "revoked" if row.revoked_at else "active"
        created = row.created_at.strftime("%Y-%m-%d %H:%M")
        made = f"{created}\n{row.created_by}"
        table.add_row(row.label, row.client, row.digest_prefix + "…", made, _limits(row), state)
    Console(highlight=False).print(table)


def _limits(row: GatewayKeyRead) -> str:
    parts = []
    for kind, names in (("models", row.models), ("regions", row.regions)):
        if names is None:
            parts.append(f"{kind} unreadable (refused)")
        elif names:
            parts.append(f"{kind} {', '.join(names)}")
    return "; ".join(parts) or "client's"


@app.command("revoke")
def revoke_command(
    label: Annotated[str, typer.Argument(help="The key's label (leakline gateway-keys list).")],
    by: Annotated[str, typer.Option("--by", help="Who revokes it (for the audit log).")] = "cli",
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Revoke a key: a running gateway refuses it within database_keys_refresh_seconds."""
    from leakline.guard.keys import service
    from leakline.incidents.runtime import load_config, store_for

    settings = load_config(config)
    by = service.check_by(by)
    store = store_for(settings)
    with _audited(settings) as router, store.transaction() as session:
        record, now_revoked = service.revoke_key(session=session, label=label, now=_now())
        if now_revoked:
            _record(router, kind="gateway.key_revoked", actor=by, key=record)
    if not now_revoked:
        typer.echo(f"key {record.label} was already revoked (nothing changed, nothing recorded)", err=True)
        return
    typer.echo(
        f"key {record.label} of client {record.client!r} revoked; a running gateway refuses it within "
        f"{settings.gateway.database_keys_refresh_seconds:g} s.",
        err=True,
    )

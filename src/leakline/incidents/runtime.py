"""What every incident/notify command and the HTTP router need: settings, the migrated store, the recorder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from leakline.config import CONFIG_FILENAME, load_settings
from leakline.incidents.timeline import AuditRecorder
from leakline.notify.settings import check_references
from leakline.store.engine import Store, open_store, resolve_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from leakline.config import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store
    recorder: AuditRecorder


def validate(settings: Settings) -> None:
    check_references(
        source=settings.source or "leakline.toml",
        channels=settings.channels,
        contacts=settings.contacts,
        authorities=settings.authorities,
        escalation=settings.escalation,
        owners=settings.owners,
    )


def store_for(settings: Settings) -> Store:
    base = Path(settings.source).resolve().parent if settings.source else Path.cwd()
    return open_store(resolve_url(settings.database.url, base=base))


def start(settings: Settings) -> Runtime:
    from leakline.audit.sinks import default_audit_log

    validate(settings)
    return Runtime(settings, store_for(settings), AuditRecorder(default_audit_log(settings)))


def load_config(config: Path) -> Settings:
    """The settings of a command's `--config`. A file named explicitly must exist (a typo would otherwise
    open an empty database and a fresh audit log beside it, and look like success); only the default
    ./leakline.toml may be missing, and then the defaults apply with a warning on stderr."""
    if config != Path(CONFIG_FILENAME):
        return load_settings(config, required=True)
    if not config.exists():
        import typer

        from leakline.audit.settings import DEFAULT_AUDIT_DIR
        from leakline.store.settings import DEFAULT_DATABASE_URL

        typer.echo(
            f"warning: no {config} in {Path.cwd()}: using the defaults ({DEFAULT_DATABASE_URL}, audit log in "
            f"{DEFAULT_AUDIT_DIR}/, no contacts, channels or authorities); pass --config",
            err=True,
        )
    return load_settings(config)


@contextmanager
def runtime(config: Path) -> Iterator[Runtime]:
    """Settings from `config` (see `load_config`), store migrated, audit log open."""
    rt = start(load_config(config))
    try:
        yield rt
    finally:
        rt.recorder.close()


@contextmanager
def change(config: Path) -> Iterator[tuple[Runtime, Session]]:
    """One change made from the command line: a transaction whose audit records are appended once it has
    committed (`timeline.note`), then flushed to disk before the command ends."""
    with runtime(config) as rt:
        with rt.store.transaction() as session:
            yield rt, session
        rt.recorder.flush()

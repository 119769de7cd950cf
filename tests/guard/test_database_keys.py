"""Client keys kept in leakline's database (`leakline gateway-keys`): stored as SHA-256 only, read by every
gateway worker at start-up and every `database_keys_refresh_seconds`, accepted only for clients with
`database_keys = true`, dropped after `database_keys_max_stale_seconds` without a read (fail closed); on
SQLite and on a real PostgreSQL server, through the real gateway under uvicorn and the real CLI."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from leakline.config import parse_settings
from leakline.errors import ConfigError
from leakline.guard.auth import KeyStore, key_digest
from leakline.guard.errors import ModelNotAllowed, Unauthorized
from leakline.guard.keys import service
from leakline.guard.keys.errors import BadLabel, ClientNotOptedIn, KeyNotFound, LabelTaken, UnknownClient
from leakline.guard.keys.models import ActiveKey
from leakline.guard.keys.refresh import DatabaseKeys
from leakline.guard.metrics import GatewayMetrics
from leakline.guard.settings import ClientSettings
from leakline.store.engine import open_store
from tests.guard.conftest import Env
from tests.guard.helpers import audit_records, meta_of

CONFIGURED = "sk-test-configured-0123456789abcdef"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


# -- the table and its service --------------------------------------------------------------------------------


def test_a_key_is_stored_as_its_digest_only_and_listed_without_it(db_url: str) -> None:
    store = open_store(db_url)
    with store.transaction() as session:
        record, key = service.add_key(session=session, client="storefront", label=None, created_by="ops", now=NOW)
    assert key.startswith("llk_") and len(key) == 4 + 43
    assert record.label == f"storefront-{key_digest(key)[:8]}"
    assert record.digest_prefix == key_digest(key)[:12]
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT client, label, key_sha256, created_by, revoked_at FROM gateway_keys")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("storefront", record.label, key_digest(key), "ops", None)]
    assert key not in repr(rows)
    with store.transaction() as session:
        assert service.active_keys(session=session) == [
            ActiveKey(client="storefront", label=record.label, key_sha256=key_digest(key))
        ]
        assert [r.label for r in service.list_keys(session=session)] == [record.label]
        assert service.list_keys(session=session, client="other") == []


def test_labels_are_unique_and_checked_and_revoking_is_idempotent(db_url: str) -> None:
    store = open_store(db_url)
    with store.transaction() as session:
        service.add_key(session=session, client="storefront", label="sf-1", created_by="ops", now=NOW)
    with pytest.raises(LabelTaken, match="'sf-1' is taken"), store.transaction() as session:
        service.add_key(session=session, client="storefront", label="sf-1", created_by="ops", now=NOW)
    for bad in ("", "has space", "-starts-with-dash", "x" * 101, "ümlaut"):
        with pytest.raises(BadLabel):
            service.check_label(bad)
    with store.transaction() as session:
        record, now_revoked = service.revoke_key(session=session, label="sf-1", now=NOW)
        assert now_revoked and record.revoked_at == NOW
        again, now_revoked = service.revoke_key(session=session, label="sf-1", now=NOW)
        assert not now_revoked and again.revoked_at == NOW
        assert service.active_keys(session=session) == []
        with pytest.raises(KeyNotFound, match="'nope'"):
            service.revoke_key(session=session, label="nope", now=NOW)


def test_only_clients_that_opted_in_may_get_database_keys() -> None:
    clients = [
        ClientSettings(name="storefront", database_keys=True),
        ClientSettings(name="backoffice", key_sha256=[key_digest(CONFIGURED)]),
    ]
    assert service.check_client(clients=clients, name="storefront", source="leakline.toml").name == "storefront"
    with pytest.raises(ClientNotOptedIn, match="'backoffice' does not accept keys from the database"):
        service.check_client(clients=clients, name="backoffice", source="leakline.toml")
    with pytest.raises(UnknownClient, match="no \\[\\[clients\\]\\] entry is named 'nobody'"):
        service.check_client(clients=clients, name="nobody", source="leakline.toml")


def test_a_client_needs_a_configured_key_or_database_keys() -> None:
    with pytest.raises(ConfigError, match="database_keys = true"):
        parse_settings({"clients": [{"name": "storefront"}]}, source="leakline.toml")
    settings = parse_settings({"clients": [{"name": "storefront", "database_keys": True}]}, source="leakline.toml")
    assert settings.clients[0].database_keys is True


# -- the key store -------------------------------------------------------------------------------------------


def _store() -> KeyStore:
    return KeyStore.from_settings(
        [
            ClientSettings(name="storefront", database_keys=True, models=["llama3.1:8b"]),
            ClientSettings(name="backoffice", key_sha256=[key_digest(CONFIGURED)]),
        ],
        environ={},
    )


def test_database_keys_authenticate_as_their_client_with_a_db_label() -> None:
    keys = _store()
    assert keys.database_clients == frozenset({"storefront"})
    assert {c.name for c in keys.clients()} == {"storefront", "backoffice"}  # its policies are built too
    with pytest.raises(Unauthorized):
        keys.authenticate("Bearer llk_new")
    skipped = keys.use_database([ActiveKey(client="storefront", label="sf-1", key_sha256=key_digest("llk_new"))])
    assert skipped == []
    client = keys.authenticate("Bearer llk_new")
    assert (client.name, client.models, client.key) == ("storefront", ("llama3.1:8b",), "db:sf-1")
    assert keys.authenticate(f"Bearer {CONFIGURED}").name == "backoffice"
    assert keys.drop_database() == 1
    with pytest.raises(Unauthorized):
        keys.authenticate("Bearer llk_new")
    assert keys.authenticate(f"Bearer {CONFIGURED}").name == "backoffice"  # configured keys are never dropped


def test_database_keys_of_clients_that_did_not_opt_in_or_shadowing_configured_keys_are_ignored() -> None:
    keys = _store()
    skipped = keys.use_database([
        ActiveKey(client="backoffice", label="bo", key_sha256=key_digest("llk_bo")),
        ActiveKey(client="ghost", label="gh", key_sha256=key_digest("llk_gh")),
        ActiveKey(client="storefront", label="dup", key_sha256=key_digest(CONFIGURED)),
    ])  # fmt: skip
    assert skipped == [
        "database key db:bo of client 'backoffice' ignored: database_keys is not true",
        "database key db:gh of client 'ghost' ignored: no such client",
        "database key db:dup of client 'storefront' ignored: the same key is configured for client 'backoffice'",
    ]
    for key in ("llk_bo", "llk_gh"):
        with pytest.raises(Unauthorized):
            keys.authenticate(f"Bearer {key}")
    assert keys.authenticate(f"Bearer {CONFIGURED}").key == "key_sha256[0]"  # the configuration decides


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_failing_read_keeps_the_last_keys_until_they_are_stale_then_drops_them() -> None:
    keys = _store()
    rows = [ActiveKey(client="storefront", label="sf-1", key_sha256=key_digest("llk_new"))]
    failing = False

    def read() -> list[ActiveKey]:
        if failing:
            raise ConnectionRefusedError("postgresql://leakline:s3cret@db/leakline")
        return rows

    clock = _Clock()
    metrics = GatewayMetrics()
    refresh = DatabaseKeys(keys, read, refresh_seconds=5, max_stale_seconds=60, metrics=metrics, clock=clock)
    refresh.load()
    assert metrics.database_keys._value.get() == 1
    failing = True
    clock.now += 30
    asyncio.run(refresh.refresh())
    assert keys.authenticate("Bearer llk_new").name == "storefront"  # 30 s old: still accepted
    assert (refresh.failures, metrics.database_key_reads_failed._value.get()) == (1, 1)
    clock.now += 31
    asyncio.run(refresh.refresh())
    with pytest.raises(Unauthorized):
        keys.authenticate("Bearer llk_new")  # 61 s without a read: fail closed
    assert metrics.database_keys._value.get() == 0
    failing = False
    asyncio.run(refresh.refresh())
    assert keys.authenticate("Bearer llk_new").name == "storefront"
    assert refresh.failures == 0 and metrics.database_keys._value.get() == 1


def test_keys_are_refused_once_stale_even_when_no_refresh_ever_fails() -> None:
    # A read that hangs on a lock (or a refresh task that died) never reaches the failure path: the key store
    # itself refuses keys whose last read is older than max_stale_seconds (red team: still accepted at 12 s
    # with max_stale 2 while PostgreSQL held a lock on the table).
    keys = _store()
    clock = _Clock()
    rows = [ActiveKey(client="storefront", label="sf-1", key_sha256=key_digest("llk_new"))]
    refresh = DatabaseKeys(keys, lambda: rows, refresh_seconds=5, max_stale_seconds=60, clock=clock)
    refresh.load()
    clock.now += 60
    assert keys.authenticate("Bearer llk_new").name == "storefront"
    clock.now += 0.5
    with pytest.raises(Unauthorized):
        keys.authenticate("Bearer llk_new")
    assert keys.authenticate(f"Bearer {CONFIGURED}").name == "backoffice"
    refresh.load()
    assert keys.authenticate("Bearer llk_new").name == "storefront"


def test_a_refresh_whose_metrics_cannot_be_written_goes_on() -> None:
    keys = _store()
    metrics = GatewayMetrics()

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    refresh = DatabaseKeys(keys, lambda: [], refresh_seconds=5, max_stale_seconds=60, metrics=metrics)
    refresh.load()
    refresh._read = lambda: (_ for _ in ()).throw(ConnectionRefusedError())
    metrics.database_key_reads_failed.inc = full_disk  # type: ignore[method-assign]
    asyncio.run(refresh.refresh())
    asyncio.run(refresh.refresh())
    assert refresh.failures == 2


def test_labels_written_to_the_table_by_hand_are_not_shown_as_they_are() -> None:
    keys = _store()
    skipped = keys.use_database([ActiveKey(client="storefront", label="x\nFAKE LOG LINE", key_sha256="a" * 64)])
    assert skipped == ["database key with the label 'x\\nFAKE LOG LINE' ignored: not a valid label"]
    assert keys.database_key_count == 0


def test_the_default_label_of_an_odd_client_name_asks_for_one(db_url: str) -> None:
    store = open_store(db_url)
    with pytest.raises(BadLabel, match="client 'Store Front' gives no valid default label") as caught, store.transaction() as session:
        service.add_key(session=session, client="Store Front", label=None, created_by="ops", now=NOW)
    assert "--label" in caught.value.diagnostics()


def test_max_stale_shorter_than_the_refresh_is_refused() -> None:
    with pytest.raises(ConfigError, match="database_keys_max_stale_seconds \\(5\\) is shorter than database_keys_refresh_seconds \\(10\\)"):
        parse_settings(
            {"gateway": {"database_keys_refresh_seconds": 10, "database_keys_max_stale_seconds": 5}},
            source="leakline.toml",
        )


def test_a_failed_read_is_logged_without_the_database_url(caplog: pytest.LogCaptureFixture) -> None:
    keys = _store()

    def read() -> list[ActiveKey]:
        raise ConnectionRefusedError("postgresql://leakline:s3cret@db/leakline")

    refresh = DatabaseKeys(keys, lambda: [], refresh_seconds=5, max_stale_seconds=60)
    refresh.load()
    refresh._read = read
    with caplog.at_level("WARNING", logger="leakline.guard"):
        asyncio.run(refresh.refresh())
    assert "reading the database keys failed (ConnectionRefusedError, 1 in a row)" in caplog.text
    assert "s3cret" not in caplog.text and "postgresql://" not in caplog.text


# -- through the real gateway --------------------------------------------------------------------------------


def _chat(env: Env, key: str) -> httpx.Response:
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"authorization": f"Bearer {key}", "x-vercel-ip-country": "DE"}
    return httpx.post(f"{env.url}/v1/chat/completions", json=body, headers=headers, timeout=20)


def _until(check: Any, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_keys_added_and_revoked_while_the_gateway_runs_take_effect_within_the_refresh(make_env: Any) -> None:
    clients = [
        {"name": "storefront", "database_keys": True},
        {"name": "backoffice", "key_sha256": key_digest(CONFIGURED)},
    ]
    env: Env = make_env(clients=clients, database_keys_refresh_seconds=0.2)
    store = open_store(f"sqlite:///{env.tmp / 'leakline.db'}")
    assert _chat(env, CONFIGURED).status_code == 200
    with store.transaction() as session:
        _, key = service.add_key(session=session, client="storefront", label="sf-1", created_by="ops", now=NOW)
        # A key for a client that did not opt in: never accepted, whatever the table says.
        _, stray = service.add_key(session=session, client="backoffice", label="bo-1", created_by="ops", now=NOW)
    assert _until(lambda: _chat(env, key).status_code == 200)
    assert _chat(env, stray).status_code == 401
    with store.transaction() as session:
        service.revoke_key(session=session, label="sf-1", now=NOW)
    assert _until(lambda: _chat(env, key).status_code == 401)
    answer = _chat(env, key)
    assert answer.json()["error"]["code"] == "invalid_api_key"
    assert _chat(env, CONFIGURED).status_code == 200

    env.drain()
    records = [meta_of(r) for r in audit_records(env.tmp / "audit-eu", env.tmp / "audit.key")]
    used = [(m["client"], m["client_key"]) for m in records if m.get("kind") == "gateway.exchange" and m.get("client")]
    assert ("storefront", "db:sf-1") in used
    assert key not in repr(records) and key_digest(key) not in repr(records)
    metrics = httpx.get(f"{env.url}/metrics").text
    assert "leakline_gateway_database_keys 0.0" in metrics  # revoked: none left


def test_a_key_in_the_database_before_the_start_is_accepted_at_once(make_env: Any, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'leakline.db'}")
    with store.transaction() as session:
        _, key = service.add_key(session=session, client="storefront", label="sf-0", created_by="ops", now=NOW)
    env: Env = make_env(clients=[{"name": "storefront", "database_keys": True}])
    assert _chat(env, key).status_code == 200


def test_a_gateway_whose_database_cannot_be_read_does_not_start(tmp_path: Path) -> None:
    from leakline.guard.build import preflight
    from leakline.guard.errors import GatewayConfigError
    from tests.store.helpers import free_port

    settings = parse_settings(
        {
            "clients": [{"name": "storefront", "database_keys": True}],
            "database": {"url": f"postgresql+psycopg://leakline:s3cret@127.0.0.1:{free_port()}/leakline"},
        },
        source=str(tmp_path / "leakline.toml"),
    )
    with pytest.raises(GatewayConfigError) as caught:
        preflight(settings)
    message = caught.value.diagnostics()
    assert "database.url: cannot read the gateway keys kept in postgresql+psycopg://leakline:***@127.0.0.1" in message
    assert "s3cret" not in message
    assert "database_keys = true" in message


# -- the command line ----------------------------------------------------------------------------------------


def _config(tmp_path: Path) -> Path:
    from leakline.audit.keys import generate_key_file

    generate_key_file(tmp_path / "audit.key")
    path = tmp_path / "leakline.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "leakline.db"}"\n\n'
        f'[audit]\npath = "{tmp_path / "audit"}"\nkey = "{tmp_path / "audit.key"}"\n\n'
        '[[clients]]\nname = "storefront"\ndatabase_keys = true\n\n'
        f'[[clients]]\nname = "backoffice"\nkey_sha256 = "{key_digest(CONFIGURED)}"\n',
        encoding="utf-8",
    )
    return path


def test_the_cli_prints_a_new_key_once_on_stdout_and_audits_without_it(cli: Any, tmp_path: Path) -> None:
    config = str(_config(tmp_path))
    code, out, err = cli("gateway-keys", "add", "storefront", "--label", "sf-1", "--by", "alice", "--config", config)
    assert code == 0, err
    key = out.strip()
    assert key.startswith("llk_") and out == key + "\n"
    assert "key sf-1 of client 'storefront' added; it is shown this once" in err
    code, out, _ = cli("gateway-keys", "list", "--config", config, "--format", "json")
    assert code == 0
    listed = __import__("json").loads(out)
    assert [(k["label"], k["client"], k["digest_prefix"], k["created_by"], k["revoked_at"]) for k in listed] == [
        ("sf-1", "storefront", key_digest(key)[:12], "alice", None)
    ]
    assert key not in out
    code, out, _ = cli("gateway-keys", "list", "--config", config)
    assert "sf-1" in out and "active" in out and key not in out
    code, _, err = cli("gateway-keys", "revoke", "sf-1", "--by", "bob", "--config", config)
    assert code == 0 and "key sf-1 of client 'storefront' revoked" in err
    code, _, err = cli("gateway-keys", "revoke", "sf-1", "--config", config)
    assert code == 0 and "already revoked (nothing changed, nothing recorded)" in err

    logged = [(meta_of(r), r.payload) for r in audit_records(tmp_path / "audit", tmp_path / "audit.key")]
    records = [(meta["kind"], meta["actor"], payload) for meta, payload in logged if "kind" in meta]
    prefix = key_digest(key)[:12]
    assert records == [
        ("gateway.key_added", "alice", {"label": "sf-1", "client": "storefront", "digest_prefix": prefix}),
        ("gateway.key_revoked", "bob", {"label": "sf-1", "client": "storefront", "digest_prefix": prefix}),
    ]


def test_an_audit_log_that_cannot_be_written_refuses_the_change(cli: Any, tmp_path: Path) -> None:
    config = _config(tmp_path)
    code, out, _ = cli("gateway-keys", "add", "storefront", "--label", "sf-1", "--config", str(config))
    assert code == 0
    (tmp_path / "audit.key").unlink()  # the audit log cannot be opened now
    code, out, err = cli("gateway-keys", "add", "storefront", "--label", "orphan", "--config", str(config))
    assert code == 2 and out == "" and "audit.key" in err
    code, _, err = cli("gateway-keys", "revoke", "sf-1", "--config", str(config))
    assert code == 2
    with open_store(f"sqlite:///{tmp_path / 'leakline.db'}").transaction() as session:
        assert [(k.label, k.revoked_at) for k in service.list_keys(session=session)] == [("sf-1", None)]


def test_who_acts_is_kept_alike_in_the_table_and_the_audit_log(cli: Any, tmp_path: Path) -> None:
    config = str(_config(tmp_path))
    who = "x" * 150
    code, _, _ = cli("gateway-keys", "add", "storefront", "--label", "sf-1", "--by", who, "--config", config)
    assert code == 0
    with open_store(f"sqlite:///{tmp_path / 'leakline.db'}").transaction() as session:
        assert service.list_keys(session=session)[0].created_by == "x" * 100
    actors = [meta_of(r).get("actor") for r in audit_records(tmp_path / "audit", tmp_path / "audit.key")]
    assert "x" * 100 in actors and who not in actors


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("add", "backoffice"), "client 'backoffice' does not accept keys from the database"),
        (("add", "nobody"), "no [[clients]] entry is named 'nobody' (configured: 'storefront', 'backoffice')"),
        (("add", "storefront", "--label", "has space"), "label 'has space': use 1-100 letters"),
        (("revoke", "nope"), "no gateway key has the label 'nope'"),
    ],
)
def test_cli_mistakes_name_what_is_wrong_and_change_nothing(
    cli: Any, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    config = str(_config(tmp_path))
    code, out, err = cli("gateway-keys", *args, "--config", config)
    assert code == 2 and expected in err and out == ""
    code, out, _ = cli("gateway-keys", "list", "--config", config, "--format", "json")
    assert out.strip() == "[]"


def test_serve_preflight_says_which_database_keys_it_ignores(tmp_path: Path) -> None:
    from leakline.guard.build import preflight

    url = f"sqlite:///{tmp_path / 'leakline.db'}"
    with open_store(url).transaction() as session:
        service.add_key(session=session, client="backoffice", label="bo-1", created_by="ops", now=NOW)
        service.add_key(session=session, client="storefront", label="sf-1", created_by="ops", now=NOW)
    settings = parse_settings(
        {
            "clients": [
                {"name": "storefront", "database_keys": True},
                {"name": "backoffice", "key_sha256": key_digest(CONFIGURED)},
            ],
            "database": {"url": url},
        },
        source=str(tmp_path / "leakline.toml"),
    )
    warnings = preflight(settings)
    assert f"{tmp_path / 'leakline.toml'}: database key db:bo-1 of client 'backoffice' ignored: database_keys is not true" in warnings
    assert not any("sf-1" in w for w in warnings)


# -- a key's own models and regions ----------------------------------------------------------------------------


def test_a_keys_models_and_regions_are_stored_and_read_back(db_url: str) -> None:
    store = open_store(db_url)
    with store.transaction() as session:
        narrow, key = service.add_key(
            session=session, client="storefront", label="sf-us", created_by="ops", now=NOW,
            models=("mistral:7b",), regions=("us",),
        )  # fmt: skip
        wide, other = service.add_key(session=session, client="storefront", label="sf-all", created_by="ops", now=NOW)
    assert (narrow.models, narrow.regions, wide.models, wide.regions) == (["mistral:7b"], ["us"], [], [])
    engine = create_engine(db_url)
    with engine.begin() as conn:
        stored = conn.execute(text("SELECT models, regions FROM gateway_keys WHERE label = 'sf-us'")).one()
        assert tuple(stored) == ('["mistral:7b"]', '["us"]')
        # Written by hand: not a list of names.
        conn.execute(text("UPDATE gateway_keys SET regions = '\"us\"' WHERE label = 'sf-all'"))
    engine.dispose()
    with store.transaction() as session:
        assert service.active_keys(session=session) == [
            ActiveKey(client="storefront", label="sf-us", key_sha256=key_digest(key), models=("mistral:7b",),
                      regions=("us",)),
            ActiveKey(client="storefront", label="sf-all", key_sha256=key_digest(other), models=(), regions=None),
        ]  # fmt: skip
        listed = {r.label: (r.models, r.regions) for r in service.list_keys(session=session)}
    assert listed == {"sf-us": (["mistral:7b"], ["us"]), "sf-all": ([], None)}


def test_a_key_narrows_its_client_and_one_outside_it_or_unreadable_is_refused() -> None:
    keys = KeyStore.from_settings(
        [
            ClientSettings(name="storefront", database_keys=True, models=["llama3.1:8b", "mistral:7b"]),
            ClientSettings(name="kiosk", database_keys=True, regions=["eu"]),
        ],
        environ={},
    )
    skipped = keys.use_database([
        ActiveKey(client="storefront", label="narrow", key_sha256=key_digest("llk_n"), models=("mistral:7b",)),
        ActiveKey(client="storefront", label="same", key_sha256=key_digest("llk_s")),
        ActiveKey(client="kiosk", label="mine", key_sha256=key_digest("llk_m"), models=("phi3",), regions=("eu",)),
        ActiveKey(client="storefront", label="wider", key_sha256=key_digest("llk_w"), models=("gpt-4o", "mistral:7b")),
        ActiveKey(client="kiosk", label="moved", key_sha256=key_digest("llk_x"), regions=("us",)),
        ActiveKey(client="kiosk", label="garbled", key_sha256=key_digest("llk_g"), models=None),
    ])  # fmt: skip
    assert skipped == [
        "database key db:wider of client 'storefront' ignored: its models 'gpt-4o' are not allowed to the client any more",
        "database key db:moved of client 'kiosk' ignored: its regions 'us' are not allowed to the client any more",
        "database key db:garbled of client 'kiosk' ignored: its models column is not a JSON list of names",
    ]
    narrow = keys.authenticate("Bearer llk_n")
    assert (narrow.name, narrow.models, narrow.regions, narrow.key) == ("storefront", ("mistral:7b",), (), "db:narrow")
    narrow.check_model("mistral:7b")
    with pytest.raises(ModelNotAllowed):
        narrow.check_model("llama3.1:8b")  # the client may, this key may not
    assert keys.authenticate("Bearer llk_s").models == ("llama3.1:8b", "mistral:7b")
    mine = keys.authenticate("Bearer llk_m")
    assert (mine.models, mine.regions) == (("phi3",), ("eu",))
    for refused in ("llk_w", "llk_x", "llk_g"):
        with pytest.raises(Unauthorized):
            keys.authenticate(f"Bearer {refused}")


def test_through_the_gateway_a_key_limited_to_a_region_or_model_is_refused_elsewhere(make_env: Any) -> None:
    env: Env = make_env(clients=[{"name": "storefront", "database_keys": True}])
    store = open_store(f"sqlite:///{env.tmp / 'leakline.db'}")
    with store.transaction() as session:
        _, us_only = service.add_key(
            session=session, client="storefront", label="us-only", created_by="ops", now=NOW, regions=("us",)
        )
        _, mistral = service.add_key(
            session=session, client="storefront", label="mistral", created_by="ops", now=NOW, models=("mistral:7b",)
        )
        _, eu = service.add_key(
            session=session, client="storefront", label="eu", created_by="ops", now=NOW, regions=("eu",)
        )
    assert _until(lambda: _chat(env, eu).status_code == 200)
    refused = _chat(env, us_only)  # a visitor in DE: region eu, which this key may not use
    assert refused.status_code == 451, refused.text
    assert "may not be served from region(s) eu" in refused.json()["error"]["message"]
    wrong_model = _chat(env, mistral)
    assert wrong_model.status_code == 403
    assert wrong_model.json()["error"]["code"] == "model_not_allowed"


def _scoped_config(tmp_path: Path) -> Path:
    path = _config(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'name = "storefront"\ndatabase_keys = true\n',
            'name = "storefront"\ndatabase_keys = true\nmodels = ["llama3.1:8b", "mistral:7b"]\nregions = ["eu"]\n',
        )
        + '\n[regions.eu]\nupstream = "http://127.0.0.1:9/v1"\ncountries = ["DE"]\n'
        + '\n[regions.us]\nupstream = "http://127.0.0.1:9/v1"\ncountries = ["US"]\n',
        encoding="utf-8",
    )
    return path


def test_the_cli_adds_a_key_with_its_own_models_and_regions(cli: Any, tmp_path: Path) -> None:
    config = str(_scoped_config(tmp_path))
    code, out, err = cli(
        "gateway-keys", "add", "storefront", "--label", "sf-m", "--model", "mistral:7b", "--model", "mistral:7b",
        "--region", "eu", "--by", "alice", "--config", config,
    )  # fmt: skip
    assert code == 0, err
    key = out.strip()
    code, out, _ = cli("gateway-keys", "list", "--config", config, "--format", "json")
    assert [(k["label"], k["models"], k["regions"]) for k in __import__("json").loads(out)] == [
        ("sf-m", ["mistral:7b"], ["eu"])
    ]
    code, out, _ = cli("gateway-keys", "list", "--config", config)
    assert "mistral:7b" in out and key not in out
    payloads = [r.payload for r in audit_records(tmp_path / "audit", tmp_path / "audit.key") if "kind" in meta_of(r)]
    assert payloads == [
        {"label": "sf-m", "client": "storefront", "digest_prefix": key_digest(key)[:12], "models": ["mistral:7b"],
         "regions": ["eu"]}
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--model", "gpt-4o"), "client 'storefront' may not use model 'gpt-4o' (its models: 'llama3.1:8b', 'mistral:7b')"),
        (("--region", "us"), "client 'storefront' may not use region 'us' (its regions: 'eu')"),
        (("--region", "apac"), "--region 'apac' is not a configured region (configured: 'eu', 'us')"),
        (("--model", " mistral:7b"), "--model ' mistral:7b': a model name, without surrounding spaces"),
    ],
)
def test_cli_scope_mistakes_name_what_is_wrong_and_change_nothing(
    cli: Any, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    config = str(_scoped_config(tmp_path))
    code, out, err = cli("gateway-keys", "add", "storefront", *args, "--config", config)
    assert code == 2 and expected in err and out == "", err
    code, out, _ = cli("gateway-keys", "list", "--config", config, "--format", "json")
    assert out.strip() == "[]"


def test_keys_added_before_migration_0007_keep_their_clients_limits(db_url: str) -> None:
    from leakline.store.engine import forget_store
    from tests.store.helpers import migrate_to

    migrate_to(
        db_url,
        "0006",
        (
            "INSERT INTO gateway_keys (client, label, key_sha256, created_at, created_by) "
            "VALUES ('storefront', 'old', :digest, '2026-11-27 10:00:00', 'ops')",
            {"digest": key_digest("llk_old")},
        ),
    )
    with open_store(db_url).transaction() as session:
        assert service.active_keys(session=session) == [
            ActiveKey(client="storefront", label="old", key_sha256=key_digest("llk_old"), models=(), regions=())
        ]
    forget_store(db_url)


@pytest.mark.parametrize(
    "column",
    ['"us"', "{}", "null", '[""]', "[1]", "not json", "[" * 5000 + "]" * 5000, '["\\ud800"]', '["eu\\nus"]'],
)
def test_a_scope_column_written_by_hand_that_is_not_a_list_of_names_refuses_the_key(column: str) -> None:
    from leakline.guard.keys.models import names_of

    assert names_of(column) is None  # never an exception: one bad row must not stop every key's refresh
    keys = _store()
    skipped = keys.use_database([
        ActiveKey(client="storefront", label="bad", key_sha256=key_digest("llk_b"), regions=names_of(column)),
        ActiveKey(client="storefront", label="good", key_sha256=key_digest("llk_g")),
    ])  # fmt: skip
    assert skipped == ["database key db:bad of client 'storefront' ignored: its regions column is not a JSON list of names"]
    assert keys.authenticate("Bearer llk_g").key == "db:good"
    with pytest.raises(Unauthorized):
        keys.authenticate("Bearer llk_b")

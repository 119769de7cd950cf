"""The writer: round trips, group commit, epochs, heartbeats, checkpoints, recovery, rotation, residency."""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from leakline.audit import format as fmt
from leakline.audit.errors import (
    AuditUsageError,
    KeyFileError,
    KeyMismatch,
    LogBusy,
    LogNotFound,
    RecordTooLarge,
    ResidencyRefused,
)
from leakline.audit.keys import KEY_ENV_VAR, generate_key_file, load_key_file, load_keys, parse_keys
from leakline.audit.log import AuditLog, CommitPolicy, read_data_key
from leakline.audit.rotate import rotate_keys
from leakline.audit.verify import Record, parse_header, verify_log
from tests.audit.helpers import fixed_keys, other_keys, quiet_policy, record_spans


def decrypt_all(directory: Path, keys: object = None) -> list[Record]:
    header = parse_header((directory / fmt.LOG_FILENAME).read_bytes())
    data_key = read_data_key(directory, header, keys or fixed_keys())  # type: ignore[arg-type]
    records: list[Record] = []
    verify_log(directory, data_key=data_key, on_record=records.append)
    return records


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll for a state the background thread must reach; generous bound, no timing asserted."""
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


def test_round_trip_keeps_metadata_clear_and_payload_encrypted(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    secret = "4111 1111 1111 1111"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        first = log.append(kind="gateway.exchange", actor="gateway", incident="INC-7",
                           payload={"prompt": f"my card is {secret}"}, meta={"detector_hits": ["pan"]})
        second = log.append(kind="note", actor="alice", payload=None)
    assert (first, second) == (1, 2)
    raw = (directory / fmt.LOG_FILENAME).read_bytes()
    assert secret.encode() not in raw
    assert b'"detector_hits":["pan"]' in raw  # clear metadata is readable without the key
    records = decrypt_all(directory)
    assert [r.type for r in records] == [fmt.RecordType.EPOCH, fmt.RecordType.EVENT, fmt.RecordType.EVENT]
    assert records[1].payload == {"prompt": f"my card is {secret}"}
    assert records[1].meta == {"kind": "gateway.exchange", "actor": "gateway", "incident": "INC-7",
                               "payload_bytes": 43, "meta": {"detector_hits": ["pan"]}}
    assert records[2].payload is None
    assert records[2].meta == {"kind": "note", "actor": "alice", "payload_bytes": 0}


def test_files_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        log.append(kind="k", actor="a")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in (fmt.LOG_FILENAME, fmt.CHECKPOINT_FILENAME, fmt.DATAKEY_FILENAME):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600


def test_group_commit_buffers_until_flush(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    log = AuditLog.open(directory, fixed_keys(), policy=quiet_policy(), background=False)
    size_before = (directory / fmt.LOG_FILENAME).stat().st_size
    assert log.append(kind="k", actor="a", payload={"n": 1}) == 1
    assert (directory / fmt.LOG_FILENAME).stat().st_size == size_before
    log.flush()
    assert verify_log(directory).records == 2
    log.close()
    assert verify_log(directory).uncovered_records == 0


def test_background_thread_commits_a_batch_when_it_is_due(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy(group_commit_ms=20)) as log:
        log.append(kind="k", actor="a")
        wait_for(lambda: verify_log(directory).records == 2, "the batch reached the disk")


def test_record_mode_is_durable_on_return(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    log = AuditLog.open(directory, fixed_keys(), policy=quiet_policy(mode="record"), background=False)
    log.append(kind="k", actor="a")
    assert verify_log(directory).records == 2
    log.close()


def test_every_writer_start_is_a_new_epoch(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    for _ in range(3):
        with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
            log.append(kind="k", actor="a")
    records = decrypt_all(directory)
    assert [(r.seq, r.epoch, r.type.name) for r in records] == [
        (0, 0, "EPOCH"), (1, 0, "EVENT"), (2, 1, "EPOCH"), (3, 1, "EVENT"), (4, 2, "EPOCH"), (5, 2, "EVENT"),
    ]
    assert records[0].meta["writer"]["pid"] == os.getpid()
    assert verify_log(directory).checkpoints == 3


def test_heartbeats_while_idle(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy(heartbeat_seconds=1, group_commit_ms=5)):
        wait_for(lambda: verify_log(directory).records >= 3, "two records (EPOCH + heartbeat) and another")
    types = [r.type for r in decrypt_all(directory)]
    assert types[0] == fmt.RecordType.EPOCH
    assert set(types[1:]) == {fmt.RecordType.HEARTBEAT}


def test_time_based_checkpoint(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy(checkpoint_every_seconds=0.05)) as log:
        log.append(kind="k", actor="a")
        log.flush()
        wait_for(lambda: verify_log(directory).checkpoints >= 1, "a checkpoint after T seconds")
        assert verify_log(directory).last_checkpoint is not None


def test_count_based_checkpoints(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy(mode="record", checkpoint_every_records=4),
                       background=False) as log:
        for _ in range(9):
            log.append(kind="k", actor="a")
    report = verify_log(directory)
    assert (report.records, report.checkpoints) == (10, 3)  # at 4 and 8 records, and 10 at close


def test_region_is_bound_to_the_sink(tmp_path: Path) -> None:
    eu = tmp_path / "eu"
    with AuditLog.open(eu, fixed_keys(), region="eu", policy=quiet_policy()) as log:
        log.append(kind="k", actor="a", region="eu")
        log.flush()
        before = (eu / fmt.LOG_FILENAME).read_bytes()
        for region in (None, "us"):
            with pytest.raises(ResidencyRefused):
                log.append(kind="k", actor="a", region=region)
        log.flush()
        assert (eu / fmt.LOG_FILENAME).read_bytes() == before
    assert verify_log(eu).records == 2
    assert verify_log(eu).region == "eu"
    with pytest.raises(ResidencyRefused, match="region 'eu', not for records without a region"):
        AuditLog.open(eu, fixed_keys())
    with pytest.raises(AuditUsageError, match="not a valid name"):
        AuditLog.open(tmp_path / "x", fixed_keys(), region="EU west")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kind": "", "actor": "a"}, AuditUsageError, "kind must be"),
        ({"kind": "k", "actor": None}, AuditUsageError, "actor is required"),
        ({"kind": "k", "actor": "a", "payload": {"x": object()}}, AuditUsageError, "not JSON-serialisable"),
        ({"kind": "k", "actor": "a", "meta": ["x"]}, AuditUsageError, "meta must be a JSON object"),
        ({"kind": "k", "actor": "a", "payload": "x" * (fmt.MAX_PAYLOAD_BYTES + 1)}, RecordTooLarge, "limit"),
    ],
)
def test_bad_records_are_refused_and_nothing_is_written(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy(mode="record"), background=False) as log:
        log.append(kind="k", actor="a")
        before = (directory / fmt.LOG_FILENAME).read_bytes()
        with pytest.raises(error, match=message):
            log.append(**kwargs)  # type: ignore[arg-type]
        assert (directory / fmt.LOG_FILENAME).read_bytes() == before


def torn_tail_case(directory: Path) -> tuple[bytes, bytes]:
    """A clean log, then a record whose write was cut after 100 bytes."""
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy(mode="record"), background=False) as log:
        for i in range(3):
            log.append(kind="k", actor="a", payload={"i": i})
    intact = (directory / fmt.LOG_FILENAME).read_bytes()
    last = record_spans(intact)[-1]
    torn = intact[last.start : last.start + 100]
    with (directory / fmt.LOG_FILENAME).open("ab") as handle:
        handle.write(torn)
    return intact, torn


def test_torn_record_is_reported_then_cut_by_the_next_writer(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    intact, torn = torn_tail_case(directory)
    report = verify_log(directory)
    assert (report.records, report.torn_tail_bytes) == (4, 100)
    assert "torn record" in report.warnings[0]
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy(), background=False) as log:
        assert [p.read_bytes() for p in log.torn_recovered] == [torn]
        assert (directory / fmt.LOG_FILENAME).read_bytes() == intact
        log.append(kind="after", actor="a")
    records = decrypt_all(directory)
    assert [r.payload for r in records[:4]] == [None, {"i": 0}, {"i": 1}, {"i": 2}]
    # The torn record's epoch (0) may have reached the disk, so the new writer took epoch 1.
    assert (records[-2].epoch, records[-2].type, records[-1].meta["kind"]) == (1, fmt.RecordType.EPOCH, "after")
    assert verify_log(directory).warnings == ()


def test_zero_filled_tail_is_torn(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    intact, _ = torn_tail_case(directory)
    with (directory / fmt.LOG_FILENAME).open("wb") as handle:
        handle.write(intact + bytes(4096))
    assert verify_log(directory).torn_tail_bytes == 4096
    with AuditLog.open(directory, fixed_keys(), background=False):
        pass
    assert (directory / fmt.LOG_FILENAME).read_bytes() == intact


def test_wrong_key_is_a_usage_error(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        log.append(kind="k", actor="a")
    with pytest.raises(KeyMismatch, match="wrapped under key-encryption key") as caught:
        AuditLog.open(directory, other_keys())
    assert caught.value.exit_code == 2


def test_opening_a_missing_log_without_create(tmp_path: Path) -> None:
    with pytest.raises(LogNotFound):
        AuditLog.open(tmp_path / "none", fixed_keys(), create=False)


def test_rotation_rewraps_and_hands_over_signing(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        log.append(kind="before", actor="a", payload={"old": True})
    stale = AuditLog.open(directory, fixed_keys(), policy=quiet_policy(), background=False)
    result = rotate_keys(directory, fixed_keys(), other_keys())
    assert (result.old_kek_id, result.new_kek_id) == (fixed_keys().wrapper.key_id, other_keys().wrapper.key_id)
    with pytest.raises(KeyMismatch):
        decrypt_all(directory, fixed_keys())
    records = decrypt_all(directory, other_keys())
    assert records[1].payload == {"old": True}
    assert records[-1].type == fmt.RecordType.KEY_ROTATION
    assert records[-1].seq == result.signing_rotated_at
    report = verify_log(directory)
    assert len(report.signing_keys) == 2
    assert report.last_checkpoint is not None and report.last_checkpoint.signer == report.signing_keys[1]
    # A writer still holding the old key file cannot add a record under the old data key: it must restart.
    with pytest.raises(LogBusy) as caught:
        stale.append(kind="late", actor="a")
    assert caught.value.message == (
        f"{directory}: the data key was rotated to another key-encryption key; this writer holds "
        f"{fixed_keys().wrapper.key_id}"
    )
    assert caught.value.hint == "the key was rotated: restart this writer with the new key file"
    with pytest.raises(LogBusy):
        stale.close()
    assert [r.meta.get("kind") for r in decrypt_all(directory, other_keys())].count("late") == 0
    with AuditLog.open(directory, other_keys(), policy=quiet_policy()) as log:
        log.append(kind="after", actor="a")
    assert verify_log(directory).uncovered_records == 0


def test_after_rotation_the_old_key_and_an_old_datakey_copy_open_no_new_record(tmp_path: Path) -> None:
    import json
    import shutil

    from leakline.audit.errors import RecordModified

    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        log.append(kind="before", actor="a", payload={"n": 1})
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:  # a second writer epoch
        log.append(kind="before", actor="a", payload={"n": 2})
    old_copy = (directory / fmt.DATAKEY_FILENAME).read_bytes()  # what someone kept with the old key
    result = rotate_keys(directory, fixed_keys(), other_keys())
    assert result.new_data_key_from_epoch == 2
    with AuditLog.open(directory, other_keys(), policy=quiet_policy()) as log:
        log.append(kind="after", actor="a", payload={"n": 3})

    stored = json.loads((directory / fmt.DATAKEY_FILENAME).read_bytes())
    assert (stored["version"], stored["kek_id"]) == (2, other_keys().wrapper.key_id)
    assert [entry["first_epoch"] for entry in stored["data_keys"]] == [0, 2]
    records = decrypt_all(directory, other_keys())
    assert [(r.meta.get("kind"), r.epoch, r.payload) for r in records if r.type == fmt.RecordType.EVENT] == [
        ("before", 0, {"n": 1}), ("before", 1, {"n": 2}), ("audit.key_rotated", 2, None), ("after", 3, {"n": 3}),
    ]

    # The attack: the old key file and the old datakey.json, put back into a copy of the log.
    stolen = tmp_path / "stolen"
    shutil.copytree(directory, stolen)
    (stolen / fmt.DATAKEY_FILENAME).write_bytes(old_copy)
    opened: list[object] = []
    with pytest.raises(RecordModified) as caught:
        decrypt_all_into(stolen, fixed_keys(), opened)
    first_new = next(r for r in records if r.epoch == 2)
    assert (caught.value.seq, caught.value.detail) == (first_new.seq, "the payload does not authenticate under the log's key")
    assert opened == [{"n": 1}, {"n": 2}]  # what was written before the rotation, and nothing after


def decrypt_all_into(directory: Path, keys: object, payloads: list[object]) -> None:
    header = parse_header((directory / fmt.LOG_FILENAME).read_bytes())
    data_keys = read_data_key(directory, header, keys)  # type: ignore[arg-type]
    verify_log(directory, data_key=data_keys,
               on_record=lambda r: payloads.append(r.payload) if r.type == fmt.RecordType.EVENT else None)


def test_a_writer_never_starts_an_epoch_under_a_data_key_rotated_away(tmp_path: Path) -> None:
    """A rotation that died after writing datakey.json, before its EPOCH record: the log did not grow."""
    from leakline.audit.keys import encode_data_keys

    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        log.append(kind="before", actor="a")
    stale = AuditLog.open(directory, fixed_keys(), policy=quiet_policy(mode="record"), background=False)
    header = parse_header((directory / fmt.LOG_FILENAME).read_bytes())
    rotated = read_data_key(directory, header, fixed_keys()).with_new_key(1, bytes(range(32)))
    (directory / fmt.DATAKEY_FILENAME).write_bytes(encode_data_keys(header.log_id, other_keys().wrapper, rotated))
    log_before = (directory / fmt.LOG_FILENAME).read_bytes()
    with pytest.raises(LogBusy, match="the data key was rotated to another key-encryption key"):
        stale.append(kind="late", actor="a")
    with contextlib.suppress(LogBusy):
        stale.close()
    assert (directory / fmt.LOG_FILENAME).read_bytes() == log_before


def test_rotating_twice_keeps_every_epoch_readable_with_the_last_key(tmp_path: Path) -> None:
    from leakline.audit.keys import generate_key_file

    directory = tmp_path / "log"
    third = generate_key_file(tmp_path / "third.key")
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        log.append(kind="one", actor="a", payload=1)
    assert rotate_keys(directory, fixed_keys(), other_keys()).new_data_key_from_epoch == 1
    with AuditLog.open(directory, other_keys(), policy=quiet_policy()) as log:
        log.append(kind="two", actor="a", payload=2)
    assert rotate_keys(directory, other_keys(), third).new_data_key_from_epoch == 3
    with AuditLog.open(directory, third, policy=quiet_policy()) as log:
        log.append(kind="three", actor="a", payload=3)
    header = parse_header((directory / fmt.LOG_FILENAME).read_bytes())
    assert read_data_key(directory, header, third).first_epochs == (0, 1, 3)
    assert [r.payload for r in decrypt_all(directory, third) if r.meta.get("kind") in ("one", "two", "three")] == [
        1, 2, 3
    ]
    with pytest.raises(KeyMismatch):
        decrypt_all(directory, other_keys())
    assert verify_log(directory).uncovered_records == 0


def test_rotating_a_log_nobody_wrote_to_still_changes_the_data_key(tmp_path: Path) -> None:
    from leakline.audit.keys import decode_data_keys
    from leakline.audit.log import create_log

    directory = tmp_path / "log"
    create_log(directory, fixed_keys(), region=None)
    old_copy = (directory / fmt.DATAKEY_FILENAME).read_bytes()
    assert rotate_keys(directory, fixed_keys(), other_keys()).new_data_key_from_epoch == 1
    header = parse_header((directory / fmt.LOG_FILENAME).read_bytes())
    keys = read_data_key(directory, header, other_keys())
    old = decode_data_keys(old_copy, header.log_id, fixed_keys().unwrapper, source="old.json")
    assert keys.first_epochs == (0, 1)
    assert keys.for_epoch(1) != old.for_epoch(1)
    # EPOCH 0 under the old key; EPOCH 1, the rotation event and the signing hand-over under the new one.
    assert [(r.type, r.epoch) for r in decrypt_all(directory, other_keys())] == [
        (fmt.RecordType.EPOCH, 0), (fmt.RecordType.EPOCH, 1), (fmt.RecordType.EVENT, 1),
        (fmt.RecordType.KEY_ROTATION, 1),
    ]


def test_rotating_to_the_same_key_encryption_key_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    from tests.audit.helpers import FIXED_KEY_MATERIAL, OTHER_KEY_MATERIAL

    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        log.append(kind="before", actor="a")
    before = {path.name: path.read_bytes() for path in directory.iterdir()}
    # The same key, and the same KEK beside another signing key: either way the old key would still open the log.
    new_signer_only = parse_keys(
        {**FIXED_KEY_MATERIAL, "signing_key": OTHER_KEY_MATERIAL["signing_key"]}, source="signer-only.key"
    )
    for new in (parse_keys(dict(FIXED_KEY_MATERIAL), source="copy.key"), new_signer_only):
        with pytest.raises(AuditUsageError) as refused:
            rotate_keys(directory, fixed_keys(), new)
        assert refused.value.exit_code == 2
        assert refused.value.message == (
            f"{new.source}: same key-encryption key ({fixed_keys().wrapper.key_id}) as the current key fixed; "
            "rotating to it would change nothing, and the old key would still open the log"
        )
        assert refused.value.hint == "create a new key file with `leakline audit keygen NEWKEY` and pass it as --new-key"
    assert {path.name: path.read_bytes() for path in directory.iterdir()} == before


def test_key_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k.key"
    keys = generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path).signer.public_key == keys.signer.public_key
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        generate_key_file(path)
    bad = tmp_path / "bad.key"
    bad.touch(mode=0o600)  # a key file others can read is refused before it is parsed
    bad.write_text('{"format": "leakline-audit-key",\n "version": 1,, }')
    with pytest.raises(KeyFileError, match="not valid JSON at byte offset 47"):
        load_key_file(bad)
    bad.write_text('{"format": "leakline-audit-key", "version": 1, "kek": "!!", "signing_key": ""}')
    with pytest.raises(KeyFileError, match="field 'kek': not valid base64"):
        load_key_file(bad)
    with pytest.raises(KeyFileError, match="no such key file"):
        load_key_file(tmp_path / "missing.key")
    path.chmod(0o644)
    with pytest.raises(KeyFileError) as loose:
        load_key_file(path)
    assert (loose.value.message, loose.value.hint) == (
        f"{path}: mode 0644 lets others read the key; it must be 0600",
        f"chmod 600 {path}",
    )
    spaced = tmp_path / "my keys" / "audit.key"
    spaced.parent.mkdir()
    generate_key_file(spaced)
    spaced.chmod(0o640)
    with pytest.raises(KeyFileError) as quoted:
        load_key_file(spaced)
    assert quoted.value.hint == f"chmod 600 '{spaced}'"  # pasted into a shell, it names this file
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key_file(tmp_path)
    path.chmod(0o600)
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    with pytest.raises(KeyFileError, match=KEY_ENV_VAR):
        load_keys(None)
    monkeypatch.setenv(KEY_ENV_VAR, path.read_text())
    assert load_keys(None).wrapper.key_id == keys.wrapper.key_id


def test_commit_policy_validation() -> None:
    with pytest.raises(AuditUsageError):
        CommitPolicy(mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(AuditUsageError):
        CommitPolicy(group_commit_ms=0)


def test_resync_reads_records_longer_than_its_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leakline.audit import log as log_module

    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        for i in range(5):
            log.append(kind="k", actor="a", payload={"i": i, "pad": "x" * 900})
    monkeypatch.setattr(log_module, "_RESYNC_CHUNK", 300)
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        assert log.size == 6
        assert log.torn_recovered == []
        log.append(kind="after", actor="a")
    assert [r.meta.get("kind") for r in decrypt_all(directory)][-2:] == [None, "after"]


def test_zero_length_followed_by_data_is_damage_not_a_torn_tail(tmp_path: Path) -> None:
    from leakline.audit.errors import AuditIntegrityError

    directory = tmp_path / "log"
    intact, _ = torn_tail_case(directory)
    (directory / fmt.LOG_FILENAME).write_bytes(intact + bytes(100) + b"evidence")
    with pytest.raises(AuditIntegrityError, match="run `leakline audit verify` before writing more"):
        AuditLog.open(directory, fixed_keys(), background=False)
    assert (directory / fmt.LOG_FILENAME).read_bytes() == intact + bytes(100) + b"evidence"


def test_a_new_epoch_after_the_per_epoch_record_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "MAX_RECORDS_PER_EPOCH", 4)
    directory = tmp_path / "log"
    with AuditLog.open(directory, fixed_keys(), policy=quiet_policy()) as log:
        for i in range(7):
            log.append(kind="k", actor="a", payload={"i": i})
    records = decrypt_all(directory)
    assert [(r.epoch, r.type.name) for r in records] == [
        (0, "EPOCH"), (0, "EVENT"), (0, "EVENT"), (0, "EVENT"),
        (1, "EPOCH"), (1, "EVENT"), (1, "EVENT"), (1, "EVENT"),
        (2, "EPOCH"), (2, "EVENT"),
    ]
    assert [r.payload["i"] for r in records if r.type == fmt.RecordType.EVENT] == list(range(7))


def test_silence_and_missing_checkpoints_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leakline.audit import log as log_module

    clock = iter(range(1_750_000_000_000_000, 1_750_000_000_000_000 + 10**12, 10_000_000))  # 10 s per record
    monkeypatch.setattr(log_module, "_now_us", lambda: next(clock))
    directory = tmp_path / "log"
    policy = quiet_policy(mode="record", heartbeat_seconds=1, checkpoint_every_seconds=1.0)
    with AuditLog.open(directory, fixed_keys(), policy=policy, background=False) as log:
        log.append(kind="k", actor="a")
        log.append(kind="k", actor="a")
    warnings = verify_log(directory).warnings
    # EPOCH at t, events at t+10 s and t+20 s: two silent stretches, and no checkpoint for 20 s.
    assert len(warnings) == 3
    assert "wrote nothing from 2025-06-15T15:06:50.000000+00:00 to 2025-06-15T15:07:00" in warnings[0]
    assert "wrote nothing from 2025-06-15T15:07:00.000000+00:00 to 2025-06-15T15:07:10" in warnings[1]
    assert "(heartbeat every 1s)" in warnings[1]
    assert "went without a checkpoint for longer than twice the writers' interval (1s)" in warnings[2]


@pytest.mark.parametrize("mode", ["record", "group"])
def test_a_failed_write_loses_only_its_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    import errno

    from leakline.audit import log as log_module
    from leakline.audit.errors import AuditIOError

    directory = tmp_path / "log"
    real = log_module._pwrite_all
    failures = {"left": 0}

    def flaky(fd: int, data: bytes, offset: int) -> None:
        if failures["left"]:
            failures["left"] -= 1
            real(fd, data[: len(data) // 2], offset)  # half of it reaches the disk, as with ENOSPC
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data, offset)

    monkeypatch.setattr(log_module, "_pwrite_all", flaky)
    log = AuditLog.open(directory, fixed_keys(), policy=quiet_policy(mode=mode), background=False)
    log.append(kind="kept", actor="a", payload={"n": 1})
    log.flush()
    failures["left"] = 1
    with pytest.raises(AuditIOError, match="No space left on device"):
        # In record mode the append itself fails; in group mode the flush that should make it durable.
        log.append(kind="lost", actor="a", payload={"n": 2})
        log.flush()
    log.append(kind="after", actor="a", payload={"n": 3})
    log.close()
    records = decrypt_all(directory)
    assert [(r.seq, r.epoch, r.type.name, r.meta.get("kind")) for r in records] == [
        (0, 0, "EPOCH", None), (1, 0, "EVENT", "kept"), (2, 1, "EPOCH", None), (3, 1, "EVENT", "after"),
    ]
    assert verify_log(directory).warnings == ()


def test_a_log_inherited_across_fork_refuses_to_append(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    log = AuditLog.open(directory, fixed_keys(), policy=quiet_policy(mode="record"), background=False)
    log.append(kind="parent", actor="a")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            log.append(kind="child", actor="a")
            os.write(write, b"appended")
        except AuditUsageError as exc:
            os.write(write, b"refused" if "opened by process" in exc.message else b"other")
        log.close()  # what atexit does in a child that exits normally: must not touch the parent's log
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 100) == b"refused"
    log.append(kind="parent again", actor="a")  # the parent still holds its lock and its files
    log.close()
    assert [r.meta.get("kind") for r in decrypt_all(directory)] == [None, "parent", "parent again"]
    assert verify_log(directory).checkpoints == 1  # only the parent's close signed

"""Every kind of damage is detected, with the right typed error naming the first bad record.

The sample log is written once by the real writer (24 records, a checkpoint every 7 and one at
close); each example damages a copy of its bytes in memory and runs the pure verifier on it.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.audit import format as fmt
from leakline.audit.errors import (
    AuditIntegrityError,
    CheckpointDeleted,
    CheckpointForged,
    HeaderDamaged,
    LogTruncated,
    NotAnAuditLog,
    RecordDeleted,
    RecordModified,
    RecordReordered,
    RootMismatch,
    UnsupportedFormatVersion,
)
from leakline.audit.keys import Ed25519Signer
from leakline.audit.merkle import leaf_hash
from leakline.audit.verify import parse_header, verify_bytes
from tests.audit.helpers import RecordSpan, fixed_keys, record_spans, write_sample_log

HEADER_ERRORS = (NotAnAuditLog, UnsupportedFormatVersion, HeaderDamaged)


@functools.cache
def sample() -> tuple[bytes, bytes]:
    directory = Path(tempfile.mkdtemp(prefix="audit-tamper-")) / "log"
    write_sample_log(directory)
    return (directory / fmt.LOG_FILENAME).read_bytes(), (directory / fmt.CHECKPOINT_FILENAME).read_bytes()


@functools.cache
def spans() -> list[RecordSpan]:
    return record_spans(sample()[0])


def header_size() -> int:
    return parse_header(sample()[0]).size


def span_at(offset: int) -> RecordSpan:
    return next(s for s in spans() if s.start <= offset < s.stop)


def test_untouched_log_verifies() -> None:
    log, checkpoints = sample()
    report = verify_bytes(log, checkpoints)
    assert report.records == 25  # one EPOCH record, then 24 events
    assert report.checkpoints == 4  # at 7, 14 and 21 records (the EPOCH record counts), and 25 at close
    assert report.last_checkpoint is not None
    assert report.last_checkpoint.tree_size == 25
    assert report.uncovered_records == 0
    assert report.warnings == ()


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_bit_flip_in_the_log_is_detected(data: st.DataObject) -> None:
    log, checkpoints = sample()
    offset = data.draw(st.integers(0, len(log) - 1), label="offset")
    bit = data.draw(st.integers(0, 7), label="bit")
    damaged = bytearray(log)
    damaged[offset] ^= 1 << bit
    with pytest.raises(AuditIntegrityError) as caught:
        verify_bytes(bytes(damaged), checkpoints)
    if offset < header_size():
        assert isinstance(caught.value, HEADER_ERRORS)
    else:
        span = span_at(offset)
        assert type(caught.value) is RecordModified
        assert (caught.value.seq, caught.value.offset) == (span.seq, span.start)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_bit_flip_in_the_checkpoints_is_a_forged_checkpoint(data: st.DataObject) -> None:
    log, checkpoints = sample()
    offset = data.draw(st.integers(0, len(checkpoints) - 1), label="offset")
    damaged = bytearray(checkpoints)
    damaged[offset] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    with pytest.raises(CheckpointForged) as caught:
        verify_bytes(log, bytes(damaged))
    assert f"checkpoint #{offset // fmt.CHECKPOINT_SIZE}" in caught.value.detail


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_byte_deletion_is_detected(data: st.DataObject) -> None:
    log, checkpoints = sample()
    offset = data.draw(st.integers(0, len(log) - 1), label="offset")
    damaged = log[:offset] + log[offset + 1 :]
    with pytest.raises(AuditIntegrityError) as caught:
        verify_bytes(damaged, checkpoints)
    if offset < header_size():
        assert isinstance(caught.value, HEADER_ERRORS)
        return
    span = span_at(offset)
    last = spans()[-1]
    if span.seq == last.seq and offset - span.start >= fmt.RECORD_FIXED.size:
        # The last record's fields are intact but its end is gone: the file is shorter than signed.
        assert type(caught.value) is LogTruncated
    else:
        assert type(caught.value) is RecordModified
    assert (caught.value.seq, caught.value.offset) == (span.seq, span.start)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_record_deletion_is_detected(data: st.DataObject) -> None:
    log, checkpoints = sample()
    victim = data.draw(st.sampled_from(spans()), label="victim")
    damaged = log[: victim.start] + log[victim.stop :]
    with pytest.raises(AuditIntegrityError) as caught:
        verify_bytes(damaged, checkpoints)
    expected = LogTruncated if victim.seq == spans()[-1].seq else RecordDeleted
    assert type(caught.value) is expected
    assert (caught.value.seq, caught.value.offset) == (victim.seq, victim.start)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_reordering_is_detected(data: st.DataObject) -> None:
    log, checkpoints = sample()
    first, second = sorted(data.draw(st.lists(st.sampled_from(spans()), min_size=2, max_size=2, unique=True),
                                     label="pair"), key=lambda s: s.seq)
    damaged = (
        log[: first.start]
        + log[second.start : second.stop]
        + log[first.stop : second.start]
        + log[first.start : first.stop]
        + log[second.stop :]
    )
    with pytest.raises(RecordReordered) as caught:
        verify_bytes(damaged, checkpoints)
    assert (caught.value.seq, caught.value.offset) == (first.seq, first.start)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_truncation_before_the_last_checkpoint_is_detected(data: st.DataObject) -> None:
    log, checkpoints = sample()
    cut = data.draw(st.integers(header_size(), len(log) - 1), label="cut")
    with pytest.raises(LogTruncated) as caught:
        verify_bytes(log[:cut], checkpoints)
    first_missing = next(s for s in spans() if s.stop > cut)
    assert caught.value.seq == first_missing.seq


def _resign(raw: bytes, signer: Ed25519Signer, **changes: object) -> bytes:
    fields = list(fmt.CHECKPOINT_BODY.unpack_from(raw, 0))
    names = ["magic", "version", "reserved", "log_id", "number", "tree_size", "log_bytes", "time_us", "root",
             "header_hash", "prev_hash", "public_key"]
    for name, value in changes.items():
        fields[names.index(name)] = value
    fields[11] = signer.public_key
    body = fmt.CHECKPOINT_BODY.pack(*fields)
    return body + signer.sign(fmt.checkpoint_signed_message(body))


@pytest.mark.parametrize("number", [0, 1, 2, 3])
def test_checkpoint_signed_by_another_key_is_forged(number: int) -> None:
    log, checkpoints = sample()
    attacker = Ed25519Signer(b"\x07" * 32)
    start = number * fmt.CHECKPOINT_SIZE
    forged = _resign(checkpoints[start : start + fmt.CHECKPOINT_SIZE], attacker)
    damaged = checkpoints[:start] + forged + checkpoints[start + fmt.CHECKPOINT_SIZE :]
    with pytest.raises(CheckpointForged) as caught:
        verify_bytes(log, damaged)
    assert f"checkpoint #{number}" in caught.value.detail


def test_forged_checkpoint_claiming_more_records_is_forged_not_truncation() -> None:
    log, checkpoints = sample()
    last = checkpoints[-fmt.CHECKPOINT_SIZE :]
    attacker = Ed25519Signer(b"\x09" * 32)
    extra = _resign(last, attacker, number=4, tree_size=99, log_bytes=len(log) + 5000,
                    prev_hash=hashlib.sha256(last).digest())
    with pytest.raises(CheckpointForged, match="checkpoint #4"):
        verify_bytes(log, checkpoints + extra)


def test_removed_checkpoint_in_the_middle_is_forged() -> None:
    log, checkpoints = sample()
    size = fmt.CHECKPOINT_SIZE
    damaged = checkpoints[:size] + checkpoints[2 * size :]
    with pytest.raises(CheckpointForged, match="checkpoint #1"):
        verify_bytes(log, damaged)


def test_consistently_rewritten_records_contradict_the_signed_root() -> None:
    """An attacker without the keys rewrites record 9 and re-chains everything after it."""
    log, checkpoints = sample()
    rewritten = bytearray(log)
    prev = None
    for span in spans():
        if span.seq < 9:
            continue
        record = bytearray(rewritten[span.start : span.stop])
        if span.seq == 9:
            at = record.index(b'"actor":"tester"')
            record[at : at + 16] = b'"actor":"forger"'
        if prev is not None:
            record[32:64] = prev
        record[-32:] = leaf_hash(bytes(record[:-32]))
        prev = bytes(record[-32:])
        rewritten[span.start : span.stop] = record
    with pytest.raises(RootMismatch) as caught:
        verify_bytes(bytes(rewritten), checkpoints)
    # Checkpoint #0 (7 records) still matches; #1 (14 records) names the rewritten range.
    assert caught.value.seq == 7
    assert "records 7 to 13 were rewritten" in caught.value.detail


def test_payload_tampering_is_caught_with_the_key(tmp_path: Path) -> None:
    """A record re-hashed after its ciphertext was changed passes integrity but fails authentication."""
    from leakline.audit.log import read_data_key

    directory = tmp_path / "log"
    write_sample_log(directory, records=3, checkpoint_every=1000)
    log = bytearray((directory / fmt.LOG_FILENAME).read_bytes())
    header = parse_header(bytes(log))
    last = record_spans(bytes(log))[-1]
    log[last.stop - 40] ^= 0x01  # inside the GCM tag
    log[last.stop - 32 : last.stop] = leaf_hash(bytes(log[last.start : last.stop - 32]))
    checkpoints = b""  # the attacker also removed the checkpoints that would betray the change
    key = read_data_key(directory, header, fixed_keys())
    verify_bytes(bytes(log), checkpoints)  # integrity alone cannot see it after the checkpoints are gone
    with pytest.raises(RecordModified, match="does not authenticate") as caught:
        verify_bytes(bytes(log), checkpoints, data_key=key)
    assert caught.value.seq == last.seq


def test_deleted_trailing_checkpoints_are_detected(tmp_path: Path) -> None:
    """Each writer start records how many checkpoints existed; dropping them is then visible."""
    directory = tmp_path / "log"
    write_sample_log(directory, records=5, checkpoint_every=1000)
    write_sample_log(directory, records=5, checkpoint_every=1000)  # its EPOCH record says: 1 checkpoint
    log = (directory / fmt.LOG_FILENAME).read_bytes()
    checkpoints = (directory / fmt.CHECKPOINT_FILENAME).read_bytes()
    assert len(checkpoints) == 2 * fmt.CHECKPOINT_SIZE
    with pytest.raises(CheckpointDeleted, match="record 6 says 1 checkpoints had been written, but the file holds 0"):
        verify_bytes(log, b"")


appends = st.lists(
    st.tuples(
        st.sampled_from(["gateway.exchange", "incident.opened", "notify.sent"]),
        st.text(min_size=1, max_size=12).filter(str.strip),
        st.one_of(st.none(), st.integers(), st.text(max_size=300),
                  st.dictionaries(st.text(max_size=8), st.integers(), max_size=4)),
        st.sampled_from([None, "INC-1", "INC-2"]),
    ),
    min_size=0,
    max_size=25,
)


@settings(max_examples=15, deadline=None)
@given(appends, st.integers(1, 9), st.booleans())
def test_an_untouched_log_always_verifies(
    records: list[tuple[str, str, object, str | None]], every: int, record_mode: bool
) -> None:
    from leakline.audit.log import AuditLog, read_data_key
    from tests.audit.helpers import quiet_policy

    with tempfile.TemporaryDirectory(prefix="audit-untouched-") as tmp:
        directory = Path(tmp) / "log"
        policy = quiet_policy(mode="record" if record_mode else "group", checkpoint_every_records=every)
        with AuditLog.open(directory, fixed_keys(), policy=policy, background=False) as log:
            for kind, actor, payload, incident in records:
                log.append(kind=kind, actor=actor, payload=payload, incident=incident)
        log_bytes = (directory / fmt.LOG_FILENAME).read_bytes()
        checkpoints = (directory / fmt.CHECKPOINT_FILENAME).read_bytes()
        data_key = read_data_key(directory, parse_header(log_bytes), fixed_keys())
    seen: list[object] = []
    report = verify_bytes(log_bytes, checkpoints, data_key=data_key,
                          on_record=lambda r: seen.append(r.payload) if r.type == fmt.RecordType.EVENT else None)
    expected_records = len(records) + (1 if records else 0)
    assert (report.records, report.uncovered_records, report.warnings) == (expected_records, 0, ())
    assert seen == [payload for _, _, payload, _ in records]


def test_a_rollback_of_both_files_is_caught_with_a_trusted_checkpoint(tmp_path: Path) -> None:
    """Cutting the log and its checkpoints back to an earlier boundary is invisible without outside help."""
    from leakline.audit.errors import AuditUsageError

    directory = tmp_path / "log"
    write_sample_log(directory, records=10, checkpoint_every=4)
    log = (directory / fmt.LOG_FILENAME).read_bytes()
    checkpoints = (directory / fmt.CHECKPOINT_FILENAME).read_bytes()
    kept_by_auditor = checkpoints  # the auditor kept the checkpoint file (its last checkpoint counts)
    verify_bytes(log, checkpoints, trusted=kept_by_auditor)
    # Roll both files back to checkpoint #1 (8 records).
    first_two = checkpoints[: 2 * fmt.CHECKPOINT_SIZE]
    size = fmt.CHECKPOINT_BODY.unpack_from(first_two, fmt.CHECKPOINT_SIZE)[6]
    rolled_back = log[:size]
    assert verify_bytes(rolled_back, first_two).records == 8  # consistent on its own
    with pytest.raises(LogTruncated, match=r"trusted checkpoint #\d \(11 records\) is missing"):
        verify_bytes(rolled_back, first_two, trusted=kept_by_auditor)
    # A checkpoint of another log, or a damaged one, is a usage error, not a verdict.
    other = tmp_path / "other"
    write_sample_log(other, records=2)
    with pytest.raises(AuditUsageError, match="belongs to another log"):
        verify_bytes(log, checkpoints, trusted=(other / fmt.CHECKPOINT_FILENAME).read_bytes())
    damaged = bytearray(kept_by_auditor)
    damaged[-1] ^= 1
    with pytest.raises(AuditUsageError, match="signature does not verify"):
        verify_bytes(log, checkpoints, trusted=bytes(damaged))

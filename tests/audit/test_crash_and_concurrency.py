"""Writers killed mid-append lose nothing that was acknowledged; concurrent writers share one log."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from leakline.audit import format as fmt
from leakline.audit.keys import generate_key_file, load_key_file
from leakline.audit.log import AuditLog, read_data_key
from leakline.audit.verify import Record, parse_header, verify_log

ROOT = Path(__file__).resolve().parents[2]
COUNT = 400


def child(directory: Path, key: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.audit.writer_child", str(directory), str(key), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )


def events(directory: Path, key: Path) -> list[Record]:
    header = parse_header((directory / fmt.LOG_FILENAME).read_bytes())
    data_key = read_data_key(directory, header, load_key_file(key))
    records: list[Record] = []
    verify_log(directory, data_key=data_key, on_record=records.append)
    return [r for r in records if r.type == fmt.RecordType.EVENT]


def acknowledged(process: subprocess.Popen[str], at_least: int) -> list[tuple[int, int]]:
    assert process.stdout is not None
    acks = []
    for line in process.stdout:
        seq, index = line.split()
        acks.append((int(seq), int(index)))
        if len(acks) >= at_least:
            break
    return acks


@pytest.mark.parametrize("mode", ["record", "group"])
def test_sigkill_mid_append_keeps_every_acknowledged_record(tmp_path: Path, mode: str) -> None:
    key = tmp_path / "k.key"
    generate_key_file(key)
    directory = tmp_path / "log"
    process = child(directory, key, "--mode", mode)
    acks = acknowledged(process, 40)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    with AuditLog.open(directory, load_key_file(key)) as log:
        recovered = log.torn_recovered
        log.append(kind="after-crash", actor="test")
    report = verify_log(directory)
    assert report.warnings == ()
    found = {r.seq: r.payload["i"] for r in events(directory, key) if r.meta["kind"] == "child"}
    for seq, index in acks:
        assert found[seq] == index
    # Whatever was cut was a single incomplete record at the very end.
    assert len(recovered) <= 1


def test_torn_record_from_a_killed_writer_is_cut_and_the_rest_kept(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    generate_key_file(key)
    directory = tmp_path / "log"
    process = child(directory, key, "--mode", "record", "--tear-after", "25")
    assert process.stdout is not None
    acks = [tuple(map(int, line.split())) for line in process.stdout]
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert [index for _, index in acks] == list(range(25))
    before = verify_log(directory)
    assert before.torn_tail_bytes > 0  # half a record is on disk
    assert before.records == 26  # EPOCH + 25 acknowledged events
    with AuditLog.open(directory, load_key_file(key), background=False) as log:
        assert len(log.torn_recovered) == 1
        assert len(log.torn_recovered[0].read_bytes()) == before.torn_tail_bytes
    after = verify_log(directory)
    assert (after.records, after.torn_tail_bytes, after.warnings) == (26, 0, ())
    assert [r.payload["i"] for r in events(directory, key)] == list(range(25))


def test_concurrent_writers_share_one_sequence(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    generate_key_file(key)
    directory = tmp_path / "log"
    AuditLog.open(directory, load_key_file(key)).close()
    go = tmp_path / "go"
    writers = [
        child(directory, key, "--mode", "group", "--count", str(COUNT), "--writer", f"w{n}", "--start-file", str(go))
        for n in range(3)
    ]
    go.touch()
    for process in writers:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    report = verify_log(directory)
    assert report.uncovered_records == 0
    assert report.warnings == ()
    records = events(directory, key)
    by_writer: dict[str, list[int]] = {}
    epochs: dict[str, set[int]] = {}
    for record in records:
        by_writer.setdefault(record.payload["writer"], []).append(record.payload["i"])
        epochs.setdefault(record.payload["writer"], set()).add(record.epoch)
    assert by_writer == {f"w{n}": list(range(COUNT)) for n in range(3)}
    # One epoch (one key, one nonce counter) per writer, never shared.
    assert sorted(len(e) for e in epochs.values()) == [1, 1, 1]
    assert len(set.union(*epochs.values())) == 3
    assert report.records == 3 * (COUNT + 1)
    # The writers really took turns: the sequence switches writer many times.
    order = [r.payload["writer"] for r in records]
    assert sum(a != b for a, b in itertools.pairwise(order)) >= 2

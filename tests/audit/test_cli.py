"""`leakline audit ...`: the command contract, through the real entry point and through CliRunner."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leakline.audit import format as fmt
from leakline.audit.cli import app
from leakline.audit.errors import AuditUsageError, KeyMismatch, RecordModified
from leakline.audit.keys import kek_id
from leakline.audit.proof import check_proof
from tests.audit.helpers import record_spans

runner = CliRunner()


def leakline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakline.cli", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


def invoke(*args: str) -> object:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def populated(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "k.key"
    invoke("keygen", str(key))
    log = tmp_path / "log"
    invoke("append", "--log", str(log), "--key", str(key), "--kind", "incident.dpo_called", "--actor", "alice",
           "--incident", "INC-1", "--json", '{"note": "called the DPO at 10:02"}')
    invoke("append", "--log", str(log), "--key", str(key), "--kind", "incident.regulator_notified",
           "--actor", "bob", "--incident", "INC-1", "--json", '{"authority": "CNIL"}')
    invoke("append", "--log", str(log), "--key", str(key), "--kind", "note", "--actor", "carol",
           "--json", '"unrelated"')
    return log, key


def test_exit_codes_through_the_real_entry_point(populated: tuple[Path, Path]) -> None:
    log, _ = populated
    intact = leakline("audit", "verify", str(log))
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("intact: 6 records")
    data = bytearray((log / fmt.LOG_FILENAME).read_bytes())
    victim = record_spans(bytes(data))[3]
    data[victim.start + 80] ^= 0x10
    (log / fmt.LOG_FILENAME).write_bytes(bytes(data))
    tampered = leakline("audit", "verify", str(log), "--format", "json")
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout) == {
        "intact": False,
        "damage": "modified",
        "seq": 3,
        "offset": victim.start,
        "file": str(log / fmt.LOG_FILENAME),
        "message": f"{log / fmt.LOG_FILENAME}, record 3, byte offset {victim.start}: modified: "
                   "the record's hash does not match its contents",
    }
    usage = leakline("audit", "verify", str(log.parent / "missing"))
    assert usage.returncode == 2
    assert "no such directory" in usage.stderr
    # The same errors through CliRunner (the entry point maps them with `exit_code`).
    with pytest.raises(RecordModified, match=f"record 3, byte offset {victim.start}: modified") as caught:
        invoke("verify", str(log))
    assert caught.value.exit_code == 1
    assert runner.invoke(app, ["verify", str(log), "--format", "yaml"]).exit_code == 2


def test_keygen_writes_a_private_key(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    result = invoke("keygen", str(key))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    material = json.loads(key.read_text())
    assert material["kek"] not in result.output and material["signing_key"] not in result.output  # type: ignore[attr-defined]
    assert "signing key: SHA256:" in result.output  # type: ignore[attr-defined]


def test_append_prints_the_sequence_and_refuses_bad_json(populated: tuple[Path, Path]) -> None:
    log, key = populated
    result = invoke("append", "--log", str(log), "--key", str(key), "--kind", "k", "--actor", "a", "--json", "1")
    assert result.output == "7\n"  # type: ignore[attr-defined]
    with pytest.raises(AuditUsageError, match="--json: not valid JSON at character 1"):
        invoke("append", "--log", str(log), "--key", str(key), "--kind", "k", "--actor", "a", "--json", "{x")


def test_show_filters_and_decrypts(populated: tuple[Path, Path]) -> None:
    log, key = populated
    result = invoke("show", str(log), "--key", str(key), "--incident", "INC-1")
    lines = result.output.splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 2
    assert "incident.dpo_called  actor=alice  incident=INC-1  {\"note\": \"called the DPO at 10:02\"}" in lines[0]
    assert "incident.regulator_notified  actor=bob" in lines[1]
    kind = invoke("show", str(log), "--key", str(key), "--kind", "note")
    assert kind.output.count("\n") == 1 and '"unrelated"' in kind.output  # type: ignore[attr-defined]
    future = invoke("show", str(log), "--key", str(key), "--since", "2999-01-01T00:00:00Z")
    assert future.output == ""  # type: ignore[attr-defined]
    with pytest.raises(AuditUsageError, match="--until: 'yesterday' is not an ISO 8601 time"):
        invoke("show", str(log), "--key", str(key), "--until", "yesterday")


def test_export_writes_json_lines(populated: tuple[Path, Path], tmp_path: Path) -> None:
    log, key = populated
    out = tmp_path / "export.jsonl"
    invoke("export", str(log), "--key", str(key), "--kind", "incident.regulator_notified", "-o", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    (line,) = out.read_text().splitlines()
    exported = json.loads(line)
    assert {k: exported[k] for k in ("seq", "type", "kind", "actor", "incident", "payload")} == {
        "seq": 3, "type": "event", "kind": "incident.regulator_notified", "actor": "bob", "incident": "INC-1",
        "payload": {"authority": "CNIL"},
    }
    assert exported["time"].endswith("+00:00")


def test_rotate_key_keeps_old_records_readable(populated: tuple[Path, Path], tmp_path: Path) -> None:
    log, key = populated
    new = tmp_path / "new.key"
    invoke("keygen", str(new))
    result = invoke("rotate-key", str(log), "--key", str(key), "--new-key", str(new))
    old_id, new_id = (kek_id(base64.b64decode(json.loads(path.read_text())["kek"])) for path in (key, new))
    assert result.output.splitlines()[0] == (  # type: ignore[attr-defined]
        f"new data key from epoch 3; all data keys wrapped under key-encryption key {new_id} (was {old_id})"
    )
    assert "signing key rotated at record" in result.output  # type: ignore[attr-defined]
    shown = invoke("show", str(log), "--key", str(new), "--kind", "incident.dpo_called")
    assert "called the DPO at 10:02" in shown.output  # type: ignore[attr-defined]
    with pytest.raises(KeyMismatch):
        invoke("show", str(log), "--key", str(key))
    verified = invoke("verify", str(log), "--key", str(new), "--format", "json")
    report = json.loads(verified.output)  # type: ignore[attr-defined]
    assert report["intact"] is True and len(report["signing_keys"]) == 2 and report["uncovered_records"] == 0


@pytest.mark.parametrize("damage", ["flipped", "emptied"])
def test_a_damaged_data_key_file_is_named_as_such_not_as_a_wrong_key(
    populated: tuple[Path, Path], damage: str
) -> None:
    import base64

    log, key = populated
    datakey = log / "datakey.json"
    document = json.loads(datakey.read_text())
    wrapped = bytearray(base64.b64decode(document["wrapped"]))
    if damage == "flipped":
        wrapped[20] ^= 0x01  # inside the sealed data key; kek_id stays intact
    else:
        wrapped.clear()
    document["wrapped"] = base64.b64encode(bytes(wrapped)).decode("ascii")
    datakey.write_text(json.dumps(document, indent=2) + "\n")
    expected = (
        f"error: {datakey}: data key file modified or damaged: field 'wrapped' does not unwrap under "
        f"key-encryption key {document['kek_id']}, the key given and the one the file names\n"
        "hint: restore datakey.json from a backup of this log directory (one made after its last rotate-key); "
        "`leakline audit verify DIR` without --key still checks the log's integrity\n"
    )
    for command in (["show", str(log), "--key", str(key)], ["verify", str(log), "--key", str(key)]):
        ran = leakline("audit", *command, env={"COLUMNS": "400"})
        assert (ran.returncode, ran.stderr) == (1, expected)
    assert leakline("audit", "verify", str(log)).returncode == 0  # the log itself is intact


def test_prove_every_record(populated: tuple[Path, Path]) -> None:
    log, _ = populated
    for seq in range(6):
        proof = json.loads(invoke("prove", str(log), str(seq)).output)  # type: ignore[attr-defined]
        assert (proof["seq"], proof["tree_size"]) == (seq, 6)
        check_proof(proof)
    with pytest.raises(AuditUsageError) as missing:
        invoke("prove", str(log), "6")
    assert str(missing.value) == f"{log / fmt.LOG_FILENAME}: there is no record 6: the log holds records 0 to 5"
    with pytest.raises(AuditUsageError) as negative:
        invoke("prove", str(log), "--", "-1")
    assert str(negative.value) == "SEQ -1: a record's sequence number is 0 or more"
    proof["proof"][0] = "00" * 32
    with pytest.raises(AuditUsageError, match="does not lead to the checkpoint's root"):
        check_proof(proof)


def test_verify_with_key_authenticates_payloads(populated: tuple[Path, Path]) -> None:
    from leakline.audit.merkle import leaf_hash

    log, key = populated
    result = invoke("verify", str(log), "--key", str(key))
    assert "payloads authenticated: 6" in result.output  # type: ignore[attr-defined]
    # Re-hash a record after changing its ciphertext, and drop the checkpoints that would betray it.
    data = bytearray((log / fmt.LOG_FILENAME).read_bytes())
    last = record_spans(bytes(data))[-1]
    data[last.stop - 40] ^= 1
    data[last.stop - 32 : last.stop] = leaf_hash(bytes(data[last.start : last.stop - 32]))
    (log / fmt.LOG_FILENAME).write_bytes(bytes(data))
    # Keep the two checkpoints the third session's EPOCH record knows of; drop the one at its close.
    checkpoints = (log / fmt.CHECKPOINT_FILENAME).read_bytes()
    (log / fmt.CHECKPOINT_FILENAME).write_bytes(checkpoints[: 2 * fmt.CHECKPOINT_SIZE])
    invoke("verify", str(log))  # integrity alone passes: no checkpoint covers the record any more
    with pytest.raises(RecordModified, match="does not authenticate"):
        invoke("verify", str(log), "--key", str(key))


def test_verify_against_a_trusted_checkpoint(populated: tuple[Path, Path], tmp_path: Path) -> None:
    log, _ = populated
    kept = tmp_path / "kept-checkpoints"
    kept.write_bytes((log / fmt.CHECKPOINT_FILENAME).read_bytes())
    assert invoke("verify", str(log), "--trusted", str(kept)).output.startswith("intact: 6 records")  # type: ignore[attr-defined]
    with pytest.raises(AuditUsageError, match="cannot read"):
        invoke("verify", str(log), "--trusted", str(tmp_path / "missing"))


def test_a_log_path_that_is_a_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    invoke("keygen", str(key))
    not_a_dir = tmp_path / "afile"
    not_a_dir.write_bytes(b"something else")
    appended = leakline("audit", "append", "--log", str(not_a_dir), "--key", str(key), "--kind", "note",
                        "--actor", "a", "--json", "{}")
    assert appended.returncode == 2
    assert appended.stderr.startswith(f"error: {not_a_dir}: exists and is not a directory\n")
    assert "Traceback" not in appended.stderr
    assert not_a_dir.read_bytes() == b"something else"
    verified = leakline("audit", "verify", str(not_a_dir))
    assert verified.returncode == 2
    assert verified.stderr.startswith(f"error: {not_a_dir}: exists and is not a directory\n")


def test_a_log_that_cannot_be_created_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    invoke("keygen", str(key))
    (tmp_path / "afile").write_bytes(b"something else")
    for log, reason in [
        (tmp_path / "afile" / "log", "Not a directory"),
        (Path("/proc/leakline-log"), "No such file or directory"),
    ]:
        appended = leakline("audit", "append", "--log", str(log), "--key", str(key), "--kind", "note",
                            "--actor", "a", "--json", "{}")
        assert (appended.returncode, appended.stderr) == (2, f"error: {log}: {reason}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "k.key"]


def test_a_log_in_a_read_only_directory_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    invoke("keygen", str(key))
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        appended = leakline("audit", "append", "--log", str(ro / "log"), "--key", str(key), "--kind", "note",
                            "--actor", "a", "--json", "{}")
    finally:
        subprocess.run(["umount", str(ro)], check=True)
    assert (appended.returncode, appended.stderr) == (2, f"error: {ro / 'log'}: Read-only file system\n")


def test_export_refuses_an_existing_output_without_calling_it_a_key(populated: tuple[Path, Path]) -> None:
    log, key = populated
    existing = log.parent / "kept.jsonl"
    existing.write_bytes(b"an earlier export\n")
    refused = leakline("audit", "export", str(log), "--key", str(key), "-o", str(existing))
    assert refused.returncode == 2
    assert refused.stderr == (f"error: {existing}: already exists; refusing to overwrite an earlier export\n"
                              "hint: choose another path for -o\n")
    assert existing.read_bytes() == b"an earlier export\n"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_file_others_can_read_is_refused_before_anything_is_written(
    populated: tuple[Path, Path], mode: int
) -> None:
    log, key = populated
    key.chmod(mode)
    before = {path.name: path.read_bytes() for path in log.iterdir()}
    expected = f"error: {key}: mode {mode:04o} lets others read the key; it must be 0600\nhint: chmod 600 {key}\n"
    for command in (
        ("append", "--log", str(log), "--key", str(key), "--kind", "note", "--actor", "a", "--json", "{}"),
        ("show", str(log), "--key", str(key)),
        ("export", str(log), "--key", str(key)),
        ("verify", str(log), "--key", str(key)),
    ):
        refused = leakline("audit", *command)
        assert (refused.returncode, refused.stdout, refused.stderr) == (2, "", expected), command
    assert {path.name: path.read_bytes() for path in log.iterdir()} == before
    key.chmod(0o400)  # read-only for its owner is as private as 0600
    assert leakline("audit", "show", str(log), "--key", str(key)).returncode == 0


def test_rotation_refuses_a_new_key_file_others_can_read(populated: tuple[Path, Path], tmp_path: Path) -> None:
    log, key = populated
    new = tmp_path / "new.key"
    invoke("keygen", str(new))
    new.chmod(0o644)
    before = {path.name: path.read_bytes() for path in log.iterdir()}
    refused = leakline("audit", "rotate-key", str(log), "--key", str(key), "--new-key", str(new))
    assert (refused.returncode, refused.stderr) == (
        2,
        f"error: {new}: mode 0644 lets others read the key; it must be 0600\nhint: chmod 600 {new}\n",
    )
    assert {path.name: path.read_bytes() for path in log.iterdir()} == before


def test_rotation_to_the_current_key_is_refused_and_leaves_the_log_untouched(
    populated: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    from leakline.audit.keys import load_key_file

    log, key = populated
    copy = tmp_path / "copy.key"
    shutil.copy(key, copy)  # keeps the mode: 0600
    before = {path.name: path.read_bytes() for path in log.iterdir()}
    kek = load_key_file(key).wrapper.key_id
    for new in (key, copy):
        refused = leakline("audit", "rotate-key", str(log), "--key", str(key), "--new-key", str(new))
        assert (refused.returncode, refused.stdout, refused.stderr) == (
            2,
            "",
            f"error: {new}: same key-encryption key ({kek}) as the current key {key}; rotating to it would change "
            "nothing, and the old key would still open the log\n"
            "hint: create a new key file with `leakline audit keygen NEWKEY` and pass it as --new-key\n",
        )
    assert {path.name: path.read_bytes() for path in log.iterdir()} == before
    assert "called the DPO" in invoke("show", str(log), "--key", str(key)).output  # type: ignore[attr-defined]

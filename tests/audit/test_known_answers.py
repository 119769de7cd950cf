"""Known-answer tests: fixed keys and inputs give fixed bytes, so the format never drifts silently.

If one of these fails, the on-disk format changed: bump FORMAT_VERSION, document the change in
docs/audit-format.md, keep a reader for version 1, and only then update the expected values.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.audit import format as fmt
from leakline.audit.keys import DataKeys, epoch_key, kek_id, key_check_value
from leakline.audit.log import AuditLog, read_data_key
from leakline.audit.verify import parse_header, verify_log
from tests.audit.helpers import fixed_keys, make_deterministic, quiet_policy, record_spans

LOG_ID = bytes(range(0xA0, 0xB0))
DATA_KEY = bytes(range(0xC0, 0xE0))


def test_format_constants() -> None:
    assert fmt.FORMAT_VERSION == 1
    assert fmt.LOG_MAGIC == b"LLAUDIT\x00"
    assert fmt.CHECKPOINT_MAGIC == b"LLCHKPT\x00"
    assert (fmt.HEADER_FIXED.size, fmt.RECORD_FIXED.size, fmt.CHECKPOINT_BODY.size, fmt.CHECKPOINT_SIZE) == (
        101, 72, 188, 252,
    )


def test_key_derivations() -> None:
    assert epoch_key(DATA_KEY, LOG_ID, 0).hex() == EPOCH0_KEY
    assert epoch_key(DATA_KEY, LOG_ID, 1).hex() == EPOCH1_KEY
    assert key_check_value(DATA_KEY, LOG_ID).hex() == KEY_CHECK
    assert kek_id(bytes(range(32))) == KEK_ID
    assert fixed_keys().wrapper.key_id == KEK_ID


def write_kat_log(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_deterministic(monkeypatch)
    with AuditLog.open(directory, fixed_keys(), region="eu", policy=quiet_policy(mode="record"),
                       background=False) as log:
        log.append(kind="incident.dpo_called", actor="alice", region="eu", incident="INC-1",
                   payload={"note": "called the DPO at 10:02"}, meta={"channel": "phone"})
        log.append(kind="gateway.exchange", actor="gateway", region="eu", payload={"prompt": "hi"})


def test_writer_output_is_fixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "log"
    write_kat_log(directory, monkeypatch)
    log = (directory / fmt.LOG_FILENAME).read_bytes()
    checkpoints = (directory / fmt.CHECKPOINT_FILENAME).read_bytes()
    header = parse_header(log)
    assert log[: header.size].hex() == HEADER_HEX
    spans = record_spans(log)
    assert [s.stop - s.start for s in spans] == [275, 279, 213]
    assert log[spans[1].start : spans[1].stop].hex() == FIRST_EVENT_HEX
    assert hashlib.sha256(log).hexdigest() == LOG_SHA256
    assert checkpoints.hex() == CHECKPOINT_HEX
    data_key = read_data_key(directory, header, fixed_keys())
    assert data_key == DataKeys.single(DATA_KEY)
    assert json.loads((directory / fmt.DATAKEY_FILENAME).read_bytes())["version"] == 1  # as created: one key
    report = verify_log(directory, data_key=data_key)
    assert (report.records, report.decrypted, report.region, report.root) == (3, 3, "eu", ROOT_HEX)


DATA_KEY_2 = bytes(range(0xE0, 0x100))
WRAP_NONCE = bytes([0x5A]) * fmt.NONCE_SIZE


def test_a_rotated_data_key_file_is_fixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """datakey.json version 2: every data key with its first epoch, wrapped under the new KEK."""
    from types import SimpleNamespace

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from leakline.audit import keys as keys_module
    from leakline.audit import log as log_module
    from leakline.audit.rotate import rotate_keys
    from tests.audit.helpers import OTHER_KEY_MATERIAL, other_keys

    directory = tmp_path / "log"
    write_kat_log(directory, monkeypatch)
    monkeypatch.setattr(log_module, "new_data_key", lambda: DATA_KEY_2)
    monkeypatch.setattr(keys_module, "secrets", SimpleNamespace(token_bytes=lambda n: WRAP_NONCE[:n]))
    result = rotate_keys(directory, fixed_keys(), other_keys())
    assert result.new_data_key_from_epoch == 1
    raw = (directory / fmt.DATAKEY_FILENAME).read_bytes()
    assert raw.decode("utf-8") == ROTATED_DATAKEY_JSON
    # The documented construction, recomputed here without leakline's code.
    other_kek = bytes(range(64, 96))
    assert base64.b64encode(other_kek).decode() == OTHER_KEY_MATERIAL["kek"]
    document = json.loads(raw)
    for entry, (first, data_key) in zip(document["data_keys"], [(0, DATA_KEY), (1, DATA_KEY_2)], strict=True):
        assert entry["first_epoch"] == first
        blob = base64.b64decode(entry["wrapped"])
        ad = b"leakline-audit v1 data key\x00" + LOG_ID + document["kek_id"].encode() + first.to_bytes(4, "big")
        assert AESGCM(other_kek).decrypt(blob[:12], blob[12:], ad) == data_key
    assert epoch_key(DATA_KEY_2, LOG_ID, 1).hex() == ROTATED_EPOCH1_KEY
    log = (directory / fmt.LOG_FILENAME).read_bytes()
    assert hashlib.sha256(log).hexdigest() == ROTATED_LOG_SHA256
    data_keys = read_data_key(directory, parse_header(log), other_keys())
    assert data_keys == DataKeys(((0, DATA_KEY), (1, DATA_KEY_2)))
    seen: list[tuple[int, object]] = []
    report = verify_log(directory, data_key=data_keys, on_record=lambda r: seen.append((r.epoch, r.meta.get("kind"))))
    assert report.decrypted == report.records == 6
    # EPOCH, the two events, then the rotation's EPOCH, its event and the signing hand-over (KEY_ROTATION).
    assert seen == [(0, None), (0, "incident.dpo_called"), (0, "gateway.exchange"), (1, None),
                    (1, "audit.key_rotated"), (1, None)]


def test_a_version_1_data_key_file_is_still_read() -> None:
    """Logs created before data key rotation existed (and any log never rotated) keep their version 1 file."""
    from leakline.audit.keys import decode_data_keys

    keys = decode_data_keys(V1_DATAKEY_JSON.encode(), LOG_ID, fixed_keys().unwrapper, source="v1.json")
    assert keys == DataKeys.single(DATA_KEY)






@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1), st.text(min_size=1), st.integers(0, 2**24),
    st.one_of(st.none(), st.text(min_size=1)), st.one_of(st.none(), st.text(min_size=1)),
    st.one_of(st.none(), st.dictionaries(st.text(), st.one_of(st.integers(), st.text(), st.booleans()))),
)
def test_event_metadata_is_canonical_json(
    kind: str, actor: str, size: int, region: str | None, incident: str | None, meta: dict[str, object] | None
) -> None:
    fields: dict[str, object] = {"kind": kind, "actor": actor, "payload_bytes": size}
    if region is not None:
        fields["region"] = region
    if incident is not None:
        fields["incident"] = incident
    if meta:
        fields["meta"] = meta
    built = fmt.event_metadata(kind=kind, actor=actor, payload_bytes=size, region=region, incident=incident,
                               meta=meta)
    assert built == fmt.canonical_json(fields)


# Expected values (format version 1).
EPOCH0_KEY = "9eb332a6bc0e0a6bdd556446197334422f531dee831f560ed5e9a949ecaf681f"
EPOCH1_KEY = "19f57749493906889af150e38cdd97ea6f6ef9496ff90d0a25fd968681604264"
KEY_CHECK = "42f24808472c1c8a045993fe1deee5d3bd02d063c73e7240d47aff2ebbca0019"
KEK_ID = "6291f847fc871e8b"
HEADER_HEX = (
    "4c4c41554449540000010087a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0006379da05b600029acbae141bccaf0b22e1a94"
    "d34d0bc7361e526d0bfe12c89794bc9322966dd742f24808472c1c8a045993fe1deee5d3bd02d063c73e7240d47aff2e"
    "bbca00190265757d6f2d151de77a404cb05ef6be9e5b0f087efb56499340a0c3b39516faded28a"
)
FIRST_EVENT_HEX = (
    "000001170100000000000000000000010006379da05b67d00000000000000001738c3b6f8e2322f3fd3fb7a4e1bb7481"
    "13eda330f684ade53431cb52942edc410000007d000000327b226163746f72223a22616c696365222c22696e63696465"
    "6e74223a22494e432d31222c226b696e64223a22696e636964656e742e64706f5f63616c6c6564222c226d657461223a"
    "7b226368616e6e656c223a2270686f6e65227d2c227061796c6f61645f6279746573223a33342c22726567696f6e223a"
    "226575227dbaf13c2ee7a6edd49ed3edb83bb6fd1416603ba297ad0971ccb0272009cc0f357dc723cc0c4d084ba1179c"
    "67354175a4fb4af31f2603fc24f748ef6b654d513d403eb850f2a1ba1d0b5271dfcefa7afbcaad"
)
LOG_SHA256 = "6b111a60b16b8dad633e54f9b2b2dbc04f2b6638d7a9497ba671689e4277ad46"
CHECKPOINT_HEX = (
    "4c4c43484b50540000010000a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0000000000000000000000000000000300000000"
    "000003860006379da05b6fa00507551ef1dd2345d5fb9d809a13b4e5a177449038e841f34f0a6a11e6fbee537d6f2d15"
    "1de77a404cb05ef6be9e5b0f087efb56499340a0c3b39516faded28a7d6f2d151de77a404cb05ef6be9e5b0f087efb56"
    "499340a0c3b39516faded28a29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd74b44412e"
    "a17b2506df12bad6b8412004d5255b8ccc1a0239778214802c361073701a5f9299ed69c294afb4902dff709743d85b4b"
    "0ba8b2ff39bfdb486c243c05"
)
ROOT_HEX = "0507551ef1dd2345d5fb9d809a13b4e5a177449038e841f34f0a6a11e6fbee53"
ROTATED_DATAKEY_JSON = """\
{
  "format": "leakline-audit-datakey",
  "version": 2,
  "log_id": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
  "kek_id": "b82619d48f101e5f",
  "data_keys": [
    {
      "first_epoch": 0,
      "wrapped": "WlpaWlpaWlpaWlpaZVCJzBJ/casm1ws2RiLabv54O44U5/XNxgYO1hNvOzRzsxFSqD8tYdi+I7d7cnsa"
    },
    {
      "first_epoch": 1,
      "wrapped": "WlpaWlpaWlpaWlpaRXCp7DJfUYsG9ysWZgL6Tt5YG640x9Xt5iYu9jNPGxQ/6R66U4LZfpo3FWf4wCWG"
    }
  ]
}
"""
ROTATED_EPOCH1_KEY = "c21d1846e1dd96ad1b7fc583dd388317ec9aae4cd8dc5660038bd7c9f48f95cc"
ROTATED_LOG_SHA256 = "03f9a607b895821e8adbf125eb0ce352ec6aab284c0847e2f23283a2dd27fb25"
V1_DATAKEY_JSON = """\
{
  "format": "leakline-audit-datakey",
  "version": 1,
  "log_id": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
  "kek_id": "6291f847fc871e8b",
  "wrapped": "WlpaWlpaWlpaWlpaR/EmnXb9hZfGsEW8T1tdz6xPMnZz8RBzap4ixRmNdfiQ902og/phxKUFew1WWNOU"
}
"""

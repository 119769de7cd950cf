"""Inclusion proofs: show that one record is in the tree a signed checkpoint commits to.

A proof document is self-contained JSON: the record's stored bytes (clear metadata and ciphertext, no
plaintext), the signed checkpoint, and the RFC 6962 audit path. `check_proof` needs nothing else
(pin the signer's public key to trust it), so a regulator can check a proof without the log.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakline.audit import format as fmt
from leakline.audit.errors import AuditUsageError, CheckpointForged
from leakline.audit.keys import public_key_fingerprint, signature_valid
from leakline.audit.merkle import inclusion_proof, leaf_hash, verify_inclusion
from leakline.audit.verify import Buffer, log_paths, parse_checkpoints, parse_header, verify_log

PROOF_FORMAT = "leakline-audit-inclusion-proof"


def record_spans(buf: Buffer, header: fmt.Header) -> list[tuple[int, int]]:
    """(start, stop) of every complete record; call on a verified log."""
    spans = []
    offset = header.size
    end = len(buf)
    while end - offset >= fmt.RECORD_OVERHEAD:
        length = fmt.RECORD_FIXED.unpack_from(buf, offset)[0]
        if length < fmt.RECORD_OVERHEAD or offset + length > end:
            break
        spans.append((offset, offset + length))
        offset += length
    return spans


@dataclass(frozen=True)
class InclusionProof:
    log_id: str
    seq: int
    record: bytes
    """The record as stored: clear metadata and ciphertext, never plaintext."""
    leaf_hash: bytes
    tree_size: int
    root: bytes
    checkpoint: bytes
    signer: str
    path: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROOF_FORMAT,
            "version": fmt.FORMAT_VERSION,
            "log_id": self.log_id,
            "seq": self.seq,
            "record": base64.b64encode(self.record).decode("ascii"),
            "leaf_hash": self.leaf_hash.hex(),
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "checkpoint": base64.b64encode(self.checkpoint).decode("ascii"),
            "signer": self.signer,
            "proof": [node.hex() for node in self.path],
        }


def inclusion_proof_for(directory: Path, seq: int) -> InclusionProof:
    """Verify the log, then prove record `seq` against the latest checkpoint that covers it."""
    verify_log(directory)
    log_path, checkpoint_path = log_paths(directory)
    data = log_path.read_bytes()
    header = parse_header(data, file=str(log_path))
    checkpoints, _, _ = parse_checkpoints(checkpoint_path.read_bytes(), header, file=str(checkpoint_path))
    if seq < 0:
        raise AuditUsageError(f"SEQ {seq}: a record's sequence number is 0 or more")
    spans = record_spans(data, header)
    # A number past the end is a typo, not a missing checkpoint: say so rather than hint at checkpoints.
    if seq >= len(spans):
        held = f"records 0 to {len(spans) - 1}" if spans else "no records"
        raise AuditUsageError(f"{log_path}: there is no record {seq}: the log holds {held}")
    if not checkpoints or checkpoints[-1].tree_size <= seq:
        covered = checkpoints[-1].tree_size if checkpoints else 0
        raise AuditUsageError(
            f"record {seq} is not covered by a signed checkpoint (the last one covers {covered} records)",
            hint="checkpoints are written every N records, every T seconds and when a writer closes",
        )
    checkpoint = checkpoints[-1]
    spans = spans[: checkpoint.tree_size]
    leaves = [data[stop - fmt.HASH_SIZE : stop] for _, stop in spans]
    start, stop = spans[seq]
    proof = InclusionProof(
        log_id=header.log_id.hex(),
        seq=seq,
        record=data[start:stop],
        leaf_hash=leaves[seq],
        tree_size=checkpoint.tree_size,
        root=checkpoint.root,
        checkpoint=checkpoint.raw,
        signer=public_key_fingerprint(checkpoint.public_key),
        path=tuple(inclusion_proof(leaves, seq)),
    )
    check_proof(proof.to_dict())
    return proof


def _field(document: dict[str, Any], name: str) -> Any:
    if name not in document:
        raise AuditUsageError(f"proof: field {name!r} is missing")
    return document[name]


def check_proof(document: dict[str, Any], *, public_key: bytes | None = None) -> None:
    """Raise unless the record is in the checkpoint's tree and the checkpoint's signature is valid."""
    from leakline.audit.merkle import InclusionProofError

    if _field(document, "format") != PROOF_FORMAT or _field(document, "version") != fmt.FORMAT_VERSION:
        raise AuditUsageError("proof: not a leakline audit inclusion proof of format version 1")
    try:
        record = base64.b64decode(_field(document, "record"), validate=True)
        raw = base64.b64decode(_field(document, "checkpoint"), validate=True)
        path = [bytes.fromhex(node) for node in _field(document, "proof")]
    except (binascii.Error, ValueError, TypeError):
        raise AuditUsageError("proof: 'record', 'checkpoint' or 'proof' is not valid base64/hex") from None
    if len(raw) != fmt.CHECKPOINT_SIZE or len(record) < fmt.RECORD_OVERHEAD:
        raise AuditUsageError("proof: the checkpoint or the record has the wrong size")
    body = raw[: fmt.CHECKPOINT_BODY.size]
    fields = fmt.CHECKPOINT_BODY.unpack_from(body, 0)
    signer = fields[11]
    if public_key is not None and signer != public_key:
        raise CheckpointForged("proof: the checkpoint is signed by a key other than the one pinned")
    if not signature_valid(signer, raw[len(body) :], fmt.checkpoint_signed_message(body)):
        raise CheckpointForged("proof: the checkpoint's signature does not verify")
    tree_size, root = fields[5], fields[8]
    seq = _field(document, "seq")
    if fmt.RECORD_FIXED.unpack_from(record, 0)[3] != seq or fields[3].hex() != _field(document, "log_id"):
        raise AuditUsageError("proof: the record's sequence number or log id does not match the proof")
    leaf = leaf_hash(record[: -fmt.HASH_SIZE])
    if leaf != record[-fmt.HASH_SIZE :]:
        raise AuditUsageError("proof: the record's bytes do not match its hash")
    try:
        verify_inclusion(leaf, seq, tree_size, path, root)
    except InclusionProofError as exc:
        raise AuditUsageError(f"proof: {exc}") from None

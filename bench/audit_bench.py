"""Benchmark the audit log's writer and verifier against a plain JSON-lines log, in one process.

    python3 bench/audit_bench.py [--records 20000] [--fsync-records 400] [--repeat 3] [--dir PATH]

Every record carries a 1 KiB JSON payload. Measured, interleaved and `--repeat` times each, in a fresh
directory on the same file system (default: a temporary directory; `--dir` to pick the disk):

- baseline: plain, unencrypted JSON lines appended with `write` + fsync per line (`fdatasync`, the
  call the audit log uses);
- baseline, batched: the same JSON lines with one fsync per 5 ms batch (what group commit buys);
- audit, fsync per record (`commit = "record"`): AES-256-GCM, hash chain, Merkle frontier, checkpoints;
- audit, group commit (`commit = "group"`, 5 ms);
- verification without the key (integrity: hashes, chain, Merkle roots, signatures), in MB/s of log,
  against SHA-256 over the same bytes (the floor any integrity check pays) and against reading the
  JSON-lines baseline back with `json.loads` per line;
- verification with the key (every payload decrypted and authenticated).

The best of the repeats is reported, with ratios to the baseline, twice: per elapsed (wall) second, and
per CPU-second this process used (`time.process_time`, the background thread included). On a shared
machine the wall figures depend on how much CPU the other processes leave; the CPU figures are what one
dedicated core would do (fsync waits cost no CPU and overlap with encoding in group commit). Targets
from the issue: >= 20,000 records/s with group commit on one core, >= 200 MB/s verification without
decryption.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from leakline.audit.keys import parse_keys
from leakline.audit.log import AuditLog, CommitPolicy, read_data_key
from leakline.audit.verify import parse_header, verify_log

KEY_MATERIAL = {
    "format": "leakline-audit-key",
    "version": 1,
    "kek": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    "signing_key": "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
}
GROUP_MS = 5
# The audit log makes appends durable with fdatasync (data and size; fsync where there is none); the
# baseline uses the same call, so the comparison is about the log, not about the system call.
SYNC = getattr(os, "fdatasync", os.fsync)
TARGET_APPENDS = 20_000
TARGET_VERIFY_MB_S = 200


def payload(i: int) -> dict[str, object]:
    """A 1 KiB JSON payload (canonical encoding), different for every record."""
    body = {"i": i, "prompt": "", "response": "lorem ipsum dolor sit amet " * 30}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    body["prompt"] = "p" * (1024 - len(text))
    return body


def jsonl_append(path: Path, payloads: list[dict[str, object]], batch_ms: float | None) -> tuple[float, float]:
    """(records per wall second, records per CPU second) of a plain JSON-lines log: fsync per line or batch."""
    n = len(payloads)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    cpu = time.process_time()
    start = time.perf_counter()
    last_sync = start
    try:
        for i in range(n):
            line = json.dumps({"seq": i, "time": time.time(), "kind": "bench", "actor": "bench",
                               "payload": payloads[i]}, separators=(",", ":")) + "\n"
            os.write(fd, line.encode("utf-8"))
            now = time.perf_counter()
            if batch_ms is None or now - last_sync >= batch_ms / 1000:
                SYNC(fd)
                last_sync = now
        SYNC(fd)
    finally:
        os.close(fd)
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


def audit_append(directory: Path, payloads: list[dict[str, object]], mode: str) -> tuple[float, float]:
    keys = parse_keys(dict(KEY_MATERIAL), source="bench")
    policy = CommitPolicy(mode=mode, group_commit_ms=GROUP_MS)  # type: ignore[arg-type]
    log = AuditLog.open(directory, keys, policy=policy)
    cpu = time.process_time()  # this process, background thread included
    start = time.perf_counter()
    for body in payloads:
        log.append(kind="bench", actor="bench", payload=body)
    log.flush()
    elapsed = time.perf_counter() - start
    cpu_elapsed = time.process_time() - cpu
    log.close()
    return len(payloads) / elapsed, len(payloads) / cpu_elapsed


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    cpu = time.process_time()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def read_jsonl(path: Path) -> None:
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000, help="records for group commit and verification")
    parser.add_argument("--fsync-records", type=int, default=400, help="records for the fsync-per-record runs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp directory)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="audit-bench-", dir=args.dir))
    # Payloads are built before timing: the same objects go to both logs.
    payloads = [payload(i) for i in range(args.records)]
    few = payloads[: args.fsync_records]
    best: dict[str, float] = {}

    def keep(name: str, value: float) -> None:
        best[name] = max(best.get(name, 0.0), value)

    def keep_rate(name: str, rates: tuple[float, float]) -> None:
        keep(name, rates[0])
        keep(name + "_cpu", rates[1])

    def keep_mb(name: str, size: int, seconds: tuple[float, float]) -> None:
        keep_rate(name, (size / seconds[0] / 1e6, size / seconds[1] / 1e6))

    try:
        for round_ in range(args.repeat):
            run = root / f"round{round_}"
            run.mkdir()
            keep_rate("jsonl_fsync", jsonl_append(run / "fsync.jsonl", few, None))
            keep_rate("audit_record", audit_append(run / "record", few, "record"))
            keep_rate("jsonl_batched", jsonl_append(run / "batched.jsonl", payloads, GROUP_MS))
            keep_rate("audit_group", audit_append(run / "group", payloads, "group"))

            log_dir = run / "group"
            log_bytes = (log_dir / "audit.log").stat().st_size
            data = (log_dir / "audit.log").read_bytes()
            keys = parse_keys(dict(KEY_MATERIAL), source="bench")
            data_key = read_data_key(log_dir, parse_header(data), keys)
            jsonl_bytes = (run / "batched.jsonl").stat().st_size
            keep_mb("verify", log_bytes, timed(lambda d=log_dir: verify_log(d)))  # type: ignore[misc]
            keep_mb("sha256", log_bytes, timed(lambda b=data: hashlib.sha256(b).digest()))  # type: ignore[misc]
            keep_mb("jsonl_read", jsonl_bytes, timed(lambda r=run: read_jsonl(r / "batched.jsonl")))  # type: ignore[misc]
            keep_mb("verify_key", log_bytes, timed(
                lambda d=log_dir, k=data_key: verify_log(d, data_key=k)))  # type: ignore[misc]
            best["log_bytes"] = log_bytes
            best["jsonl_bytes"] = jsonl_bytes
            shutil.rmtree(run)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    base, base_cpu = best["jsonl_fsync"], best["jsonl_fsync_cpu"]
    load = os.getloadavg()[0]
    print(f"audit log benchmark: 1 KiB payloads, best of {args.repeat}, {os.cpu_count()} CPUs, "
          f"load average {load:.1f}, dir {args.dir or tempfile.gettempdir()}")
    print("wall: per elapsed second; cpu: per CPU-second this process used (one core's worth, whatever the load)")
    print(f"{'append':<44}{'wall rec/s':>11}{'ratio':>8}{'cpu rec/s':>11}{'ratio':>8}")
    rows = [
        ("baseline: JSON lines, fsync per record", "jsonl_fsync"),
        ("audit log, fsync per record", "audit_record"),
        (f"JSON lines, fsync per {GROUP_MS} ms batch", "jsonl_batched"),
        (f"audit log, group commit ({GROUP_MS} ms)", "audit_group"),
    ]
    for label, name in rows:
        print(f"{label:<44}{best[name]:>11,.0f}{best[name] / base:>7.2f}x"
              f"{best[name + '_cpu']:>11,.0f}{best[name + '_cpu'] / base_cpu:>7.2f}x")
    group, group_cpu = best["audit_group"], best["audit_group_cpu"]
    print(f"  group commit vs batched JSON lines: {group / best['jsonl_batched']:.2f}x wall, "
          f"{group_cpu / best['jsonl_batched_cpu']:.2f}x cpu; target >= {TARGET_APPENDS:,} records/s: "
          f"wall {'met' if group >= TARGET_APPENDS else 'NOT met'}, cpu {'met' if group_cpu >= TARGET_APPENDS else 'NOT met'}")
    print(f"{'verification':<44}{'wall MB/s':>11}{'':>8}{'cpu MB/s':>11}")
    for label, name in [
        ("audit verify, no key (integrity)", "verify"),
        ("audit verify, with key (decrypt + auth.)", "verify_key"),
        ("SHA-256 over the same bytes (floor)", "sha256"),
        ("JSON lines read back with json.loads", "jsonl_read"),
    ]:
        print(f"{label:<44}{best[name]:>11,.0f}{'':>8}{best[name + '_cpu']:>11,.0f}")
    verify, verify_cpu = best["verify"], best["verify_cpu"]
    print(f"  verify / JSON-lines read: {verify / best['jsonl_read']:.2f}x wall, "
          f"{verify_cpu / best['jsonl_read_cpu']:.2f}x cpu; target >= {TARGET_VERIFY_MB_S} MB/s: "
          f"wall {'met' if verify >= TARGET_VERIFY_MB_S else 'NOT met'}, "
          f"cpu {'met' if verify_cpu >= TARGET_VERIFY_MB_S else 'NOT met'}")
    print(f"  sizes: audit log {best['log_bytes'] / args.records:,.0f} B/record, "
          f"JSON lines {best['jsonl_bytes'] / args.records:,.0f} B/record")


if __name__ == "__main__":
    main()

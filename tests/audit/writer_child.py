"""A writer process for the crash and concurrency tests: `python -m tests.audit.writer_child ...`.

Prints each acknowledged sequence number on its own line once it is durable (`record` mode, or after
`flush()` in `group` mode). With `--tear-after N` it dies by SIGKILL in the middle of writing the
batch after the N-th record, leaving half of that batch on disk: a torn record.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from leakline.audit import log as log_module
from leakline.audit.keys import load_key_file
from leakline.audit.log import AuditLog, CommitPolicy


def tearing_write(real: Callable[[int, bytes, int], None]) -> Callable[[int, bytes, int], None]:
    """Write half of the batch, make it durable, and die as a power cut would: mid-record."""

    def write(fd: int, data: bytes, offset: int) -> None:
        real(fd, data[: len(data) // 2], offset)
        os.fsync(fd)
        os.kill(os.getpid(), signal.SIGKILL)

    return write


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("key", type=Path)
    parser.add_argument("--writer", default="w0")
    parser.add_argument("--count", type=int, default=0, help="records to write; 0 = until killed")
    parser.add_argument("--mode", choices=["record", "group"], default="record")
    parser.add_argument("--tear-after", type=int, default=-1)
    parser.add_argument("--start-file", type=Path, help="wait for this file before appending")
    args = parser.parse_args()
    policy = CommitPolicy(mode=args.mode, group_commit_ms=2, checkpoint_every_records=50)
    log = AuditLog.open(args.directory, load_key_file(args.key), policy=policy)
    while args.start_file is not None and not args.start_file.exists():
        time.sleep(0.005)
    written = 0
    while args.count == 0 or written < args.count:
        if written == args.tear_after:
            log_module._pwrite_all = tearing_write(log_module._pwrite_all)  # type: ignore[assignment]
        seq = log.append(kind="child", actor=args.writer, payload={"writer": args.writer, "i": written,
                                                                    "pad": "p" * 200})
        if args.mode == "group" and (written % 7 == 6 or written + 1 == args.count):
            log.flush()
            sys.stdout.write(f"{seq} {written}\n")
            sys.stdout.flush()
        elif args.mode == "record":
            sys.stdout.write(f"{seq} {written}\n")
            sys.stdout.flush()
        written += 1
    log.close()


if __name__ == "__main__":
    main()

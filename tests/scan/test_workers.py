"""The shard workers are forked directly (no multiprocessing Pool): their outcomes, their failures and their
exits reach the scan as they would in one process, and no worker outlives the scan."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from leakline.config import Settings
from leakline.findings import Confidence, References, Severity
from leakline.scan import engine
from leakline.scan.context import ScanContext
from leakline.scan.engine import _sharded, build_index, scan
from leakline.scan.rules.base import Hit, Rule, RuleMeta
from leakline.scan.walker import WalkStats
from tests.scan.apps import write_app
from tests.scan.test_cli import LOGGING_ROUTE

META = RuleMeta("LL900", "test", "test", Severity.LOW, Confidence.LOW, References())


class _Stop(BaseException):
    """Not an Exception: a rule raising it is not recorded as a rule error but ends the worker's shard."""


class _Report(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        for f in ctx.targets:
            yield Hit(f.rel, 1, 1, f"pid {os.getpid()}")


class _Raise(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        raise _Stop(f"stopped with {len(ctx.targets)} files")


class _Die(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        os.kill(os.getpid(), signal.SIGKILL)
        return []


def _app(tmp_path: Path) -> Path:
    return write_app(tmp_path, {f"app/api/r{i}/route.ts": LOGGING_ROUTE for i in range(6)})


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the shard workers the test forks."""
    pids: list[int] = []
    fork_shard = engine._fork_shard

    def recording(number: int) -> engine._Child:
        child = fork_shard(number)
        pids.append(child.pid)
        return child

    monkeypatch.setattr(engine, "_fork_shard", recording)
    return pids


def _all_reaped(pids: list[int]) -> bool:
    """Every worker has been waited for: none is running, none is left as a zombie."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return bool(pids)


class _ReportTogether(Rule):
    """Reports each file with the pid of the worker that checks it; a worker's first chunk waits (up to 20 s)
    until the other worker has taken one too, so that both take chunks however fast either starts."""

    per_file = True
    rendezvous: Path

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        mark = self.rendezvous / str(os.getpid())
        if not mark.exists():
            mark.touch()
            deadline = time.monotonic() + 20
            while len(list(self.rendezvous.iterdir())) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
        for f in ctx.targets:
            yield Hit(f.rel, 1, 1, f"pid {os.getpid()}")


def test_workers_take_chunks_until_none_is_left_and_each_file_is_checked_once(
    tmp_path: Path, forked: list[int]
) -> None:
    (tmp_path / "app").mkdir()
    index = build_index(_app(tmp_path / "app"), Settings(), WalkStats(), set())
    rule = _ReportTogether(META)
    rule.rendezvous = tmp_path / "rendezvous"
    rule.rendezvous.mkdir()
    with _sharded(index, [rule], 2) as collect:
        outcomes = collect()
    assert len(outcomes) == 2
    paths = sorted(hit.path for outcome in outcomes for hit in outcome.hits["LL900"])
    assert paths == sorted(f"app/api/r{i}/route.ts" for i in range(6))
    pids = {hit.message for outcome in outcomes for hit in outcome.hits["LL900"]}
    assert pids == {f"pid {pid}" for pid in forked} and len(pids) == 2
    assert _all_reaped(forked)


def test_chunks_hold_every_source_once_costliest_first_and_shrink(tmp_path: Path) -> None:
    route = LOGGING_ROUTE
    files = {f"app/api/r{i}/route.ts": route + "// pad\n" * i for i in range(40)}
    files.update({f"lib/util{i}.ts": f"export const u{i} = {i};\n" + "// pad\n" * (3 * i) for i in range(60)})
    index = build_index(write_app(tmp_path, files), Settings(), WalkStats(), set())
    candidates = index.llm_candidates
    chunks = engine._chunks(index, 2)
    dealt = [rel for chunk in chunks for rel in chunk]
    assert sorted(dealt) == sorted(f.rel for f in index.sources)
    costs = [engine._file_cost(index.files[rel], candidates) for rel in dealt]
    assert costs == sorted(costs, reverse=True)
    assert all(rel in candidates for rel in dealt[:40]) and not any(rel in candidates for rel in dealt[40:])
    chunk_costs = [sum(engine._file_cost(index.files[rel], candidates) for rel in chunk) for chunk in chunks]
    # Each chunk is about a quarter of what is left (two workers), so the last ones are small.
    assert chunk_costs[0] <= sum(chunk_costs) // 4 + max(costs)
    assert chunk_costs[-1] < chunk_costs[0] // 4
    assert 8 <= len(chunks) <= 64


def test_an_exception_in_a_worker_is_raised_in_the_scan(tmp_path: Path, forked: list[int]) -> None:
    index = build_index(_app(tmp_path), Settings(), WalkStats(), set())
    first_chunks = {len(chunk) for chunk in engine._chunks(index, 2)[:2]}
    with pytest.raises(_Stop, match=r"stopped with (\d+) files") as raised, _sharded(index, [_Raise(META)], 2) as collect:
        collect()
    assert int(str(raised.value).split()[2]) in first_chunks
    assert _all_reaped(forked)


def test_a_worker_killed_by_a_signal_fails_the_scan_instead_of_hanging(tmp_path: Path, forked: list[int]) -> None:
    index = build_index(_app(tmp_path), Settings(), WalkStats(), set())
    with (
        pytest.raises(RuntimeError, match=r"scan worker 0 ended without a result \(killed by signal 9\)"),
        _sharded(index, [_Die(META)], 2) as collect,
    ):
        collect()
    assert _all_reaped(forked)


def test_workers_still_running_when_the_scan_fails_are_stopped_and_reaped(
    tmp_path: Path, forked: list[int]
) -> None:
    index = build_index(_app(tmp_path), Settings(), WalkStats(), set())
    with pytest.raises(KeyError), _sharded(index, [_Report(META)], 2):
        raise KeyError("a project-wide rule failed before the outcomes were collected")
    assert _all_reaped(forked)


def test_a_sharded_scan_leaves_no_worker_behind(tmp_path: Path, forked: list[int]) -> None:
    app = _app(tmp_path)
    sharded = scan(app, rule_ids=["LL007"], jobs=2)
    assert [(f.rule, f.path, f.line) for f in sharded.findings] == [
        ("LL007", f"app/api/r{i}/route.ts", 7) for i in range(6)
    ]
    assert _all_reaped(forked)


def test_meanwhile_runs_once_while_the_workers_run_and_never_without_them(
    tmp_path: Path, forked: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command imports its report's renderer there (Rich for text): before the outcomes are collected."""
    app = _app(tmp_path)
    events: list[str] = []
    collect = engine._Child.outcome

    def outcome(child: engine._Child) -> engine._ShardOutcome:
        events.append(f"collect {child.number}")
        return collect(child)

    monkeypatch.setattr(engine._Child, "outcome", outcome)
    sharded = scan(app, rule_ids=["LL007"], jobs=2, meanwhile=lambda: events.append(f"meanwhile {len(forked)}"))
    assert events == ["meanwhile 2", "collect 0", "collect 1"]
    events.clear()
    alone = scan(app, rule_ids=["LL007"], jobs=1, meanwhile=lambda: events.append("meanwhile"))
    assert events == [] and alone.findings == sharded.findings
    assert _all_reaped(forked)


WORKER_MODULES = """
import json, sys
from pathlib import Path
from leakline.scan import engine

run_shard = engine._run_shard

def shard(number):
    outcome = run_shard(number)
    loaded = sorted(m for m in sys.modules if m.startswith(("leakline.scan.rules.ll", "leakline.detectors")))
    outcome.errors.append(json.dumps(loaded))
    return outcome

engine._run_shard = shard
result = engine.scan(Path(sys.argv[1]), jobs=2)
print(result.stats.rule_errors[0])
"""


def test_workers_import_only_the_modules_of_the_rules_they_run(tmp_path: Path) -> None:
    """Project-wide rules (and the detectors and header analysis they use) are imported by the main process
    after the fork, while the workers parse; a worker never imports them."""
    import json
    import subprocess
    import sys

    app = _app(tmp_path)
    done = subprocess.run([sys.executable, "-c", WORKER_MODULES, str(app)], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [
        f"leakline.scan.rules.{name}" for name in ("ll007", "ll008", "ll010", "ll011", "ll012", "ll014", "ll015")
    ]

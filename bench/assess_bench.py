"""Benchmark `leakline.obligations.assess` on 10,000 generated fact sets, side by side with baselines.

No open peer tool computes breach-notification obligations (the ones that do are closed SaaS), so the
baselines are the in-process costs that any caller of `assess()` already pays for the same fact set:
validating it into `Facts` (pydantic) and serialising the resulting assessment to JSON. Every fact set is
run through all three, interleaved, in one process; the report gives per-call times and ratios.

    python3 bench/assess_bench.py [--n 10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from leakline.obligations import assess, parse_facts

CATEGORIES = [
    "identity", "contact", "address", "date-of-birth", "financial", "payment-card", "credentials",
    "password-hashes", "government-id", "special-category", "health", "children", "location", "prompts",
    "model-outputs", "model-weights", "business",
]
PLACES = ["DE", "FR", "IE", "NL", "GB", "CH", "BR", "SG", "AU", "CA", "CA-QC", "JP", "KR", "CN", "IN",
          "US-CA", "US-NY", "US-TX", "US-FL", "US-CO", "US-WA"]
TARGET_US = 1000.0


def generate(rng: random.Random) -> dict[str, Any]:
    aware = datetime(2019, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 9 * 365 * 24 * 60))
    places = {p: rng.randrange(1, 20_000) for p in rng.sample(PLACES, rng.randrange(0, 9))}
    return {
        "aware_at": aware.isoformat(),
        "discovered_at": (aware - timedelta(hours=rng.randrange(0, 200))).isoformat(),
        "determined_at": (aware + timedelta(hours=rng.randrange(0, 200))).isoformat(),
        "controller": {
            "establishments": rng.sample(["DE", "IE", "US", "GB", "SG", "BR", "FR"], rng.randrange(1, 3)),
            "role": rng.choice(["controller", "controller", "processor"]),
            "sector": rng.choice(["retail", "online-marketplace", "healthcare", "finance", "energy", "other"]),
            "size": rng.choice(["micro", "small", "medium", "large"]),
            "sec_registrant": rng.random() < 0.3,
        },
        "breach": {
            "types": rng.sample(["confidentiality", "integrity", "availability"], rng.randrange(1, 4)),
            "cause": rng.choice(["ransomware", "hacking", "misdelivery", "theft", "llm-output-leak", "insider"]),
            "malicious": rng.random() < 0.6,
            "exfiltration": rng.choice(["confirmed", "likely", "ruled-out", "unknown"]),
            "materiality": rng.choice(["material", "not-material", "undetermined"]),
        },
        "data": {
            "categories": rng.sample(CATEGORIES, rng.randrange(1, 6)),
            "subjects": sum(places.values()) or rng.randrange(1, 50_000),
            "subjects_by_jurisdiction": places,
            "vulnerable_subjects": rng.random() < 0.2,
            "protection": {
                "encrypted": rng.random() < 0.3,
                "key_compromised": rng.random() < 0.1,
                "hashing": rng.choice(["strong", "weak", "none"]),
            },
        },
        "containment": {
            "availability_restored_after_hours": rng.choice([None, 2.0, 30.0, 120.0]),
            "operational_impact": rng.choice(["none", "minor", "significant"]),
            "recipient_trusted": rng.random() < 0.2,
            "data_retrieved_or_deleted": rng.random() < 0.2,
            "misuse_observed": rng.random() < 0.2,
        },
        "service_impact": {"users_affected": rng.randrange(0, 2_000_000), "unavailable_hours": rng.random() * 10},
        "ai_system": {"high_risk": rng.random() < 0.3, "role": rng.choice(["provider", "deployer"])},
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    raw = [generate(rng) for _ in range(args.n)]
    now = datetime(2026, 11, 26, tzinfo=UTC)

    # Cold pass: loads the regime files and builds each (country, year) holiday calendar once.
    cold_start = time.perf_counter()
    facts = [parse_facts(item, source="bench") for item in raw]
    for item in facts:
        assess(item, now=now)
    cold = time.perf_counter() - cold_start

    # Wall-clock and this thread's CPU time per call: on a shared machine the CPU time is the figure that
    # does not include time spent waiting for the core.
    wall: dict[str, list[float]] = {"assess": [], "parse": [], "dump": []}
    cpu: dict[str, list[float]] = {"assess": [], "parse": [], "dump": []}
    obligations = 0
    tick, cpu_tick = time.perf_counter_ns, time.thread_time_ns
    for item, data in zip(facts, raw, strict=True):
        w0, c0 = tick(), cpu_tick()
        parse_facts(data, source="bench")
        w1, c1 = tick(), cpu_tick()
        result = assess(item, now=now)
        w2, c2 = tick(), cpu_tick()
        json.dumps(result.to_dict())
        w3, c3 = tick(), cpu_tick()
        for name, (wa, wb, ca, cb) in {
            "parse": (w0, w1, c0, c1), "assess": (w1, w2, c1, c2), "dump": (w2, w3, c2, c3)
        }.items():
            wall[name].append((wb - wa) / 1000)
            cpu[name].append((cb - ca) / 1000)
        obligations += len(result.obligations)

    def row(name: str, values: list[float]) -> str:
        return (
            f"{name:<26} mean {statistics.fmean(values):8.1f} us   p50 {percentile(values, 0.5):8.1f} us   "
            f"p99 {percentile(values, 0.99):8.1f} us"
        )

    print(f"fact sets: {args.n} (seed {args.seed}); obligations per assessment: {obligations / args.n:.1f}")
    print(f"cold pass (regime load + holiday calendars + first assessments): {cold:.2f} s")
    for label, table in (("wall clock", wall), ("thread CPU time", cpu)):
        print(f"-- {label}")
        print(row("assess()", table["assess"]))
        print(row("baseline: parse_facts()", table["parse"]))
        print(row("baseline: json.dumps(out)", table["dump"]))
        mean_assess = statistics.fmean(table["assess"])
        median_assess = percentile(table["assess"], 0.5)
        print(f"ratio assess / parse_facts (mean): {mean_assess / statistics.fmean(table['parse']):.2f}x")
        print(f"ratio assess / json.dumps  (mean): {mean_assess / statistics.fmean(table['dump']):.2f}x")
        print(f"ratio assess / 1 ms target (mean, median): {mean_assess / TARGET_US:.2f}, {median_assess / TARGET_US:.2f}")


if __name__ == "__main__":
    main()

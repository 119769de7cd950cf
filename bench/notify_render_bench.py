"""Benchmark of `leakline.notify.render.render` against a bare Jinja2 render of the same templates.

    python bench/notify_render_bench.py [--messages 2000] [--rounds 5]

An incident that opens sends up to nine kinds of message, each drafted again whenever its facts
change, so rendering sits on the signal → alert path. Side by side in this process, `--rounds` times
each in alternation (medians reported), for `--messages` messages cycling through every kind and
language:

- leakline: `render(kind, language=..., context=ctx)` — context checks, date checks, fact validation
  (`parse_facts`), the language-neutral derivations, path-tracking wrappers for strict errors, and the
  Jinja2 render of the subject and body blocks;
- baseline: the same shipped template through one plain `jinja2.Environment` (no strict undefined, no
  validation), with the derived variables computed once up front, rendered once with `Template.render`
  (subject and body concatenated), so only one execution of the template is timed.

The ratio is the price of strictness, validation and the subject/body split per message. The
baseline's output must start with leakline's subject.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import jinja2

from leakline.notify import render as render_module
from leakline.notify.render import LANGUAGES, PACKAGE_TEMPLATES, MessageKind, render

CONTEXT: dict[str, Any] = {
    "organisation": {
        "name": "Acme Shop GmbH",
        "establishments": ["DE"],
        "sector": "online-marketplace",
        "size": "large",
        "dpo": {"name": "Dana Privacy", "email": "dpo@acme.example", "phone": "+49 30 1234567"},
    },
    "incident": {
        "id": "inc_bench",
        "title": "Assistant showed another customer's order",
        "status": "contained",
        "detected_at": "2026-11-25T08:55:00Z",
        "aware_at": "2026-11-25T09:00:00Z",
        "summary": "assistant answer contained another customer's order (e-mail m…@example.org)",
        "risk": "high",
        "risk_reasons": ["severity if disclosed: serious"],
        "facts": {
            "aware_at": "2026-11-25T09:00:00Z",
            "controller": {"establishments": ["DE"], "sector": "online-marketplace", "size": "large"},
            "breach": {"types": ["confidentiality"], "cause": "llm-output-leak", "exfiltration": "likely"},
            "data": {
                "categories": ["contact", "payment-card", "prompts"],
                "subjects": 1200,
                "subjects_by_jurisdiction": {"DE": 900, "FR": 200, "US-CA": 100},
            },
        },
    },
    "obligation": {
        "regime": "gdpr-33",
        "jurisdiction": "DE",
        "recipient": "supervisory-authority",
        "authority": "the competent German supervisory authority",
        "required": True,
        "why": "required under GDPR Art. 33(1)",
        "due_at": "2026-11-28T09:00:00Z",
        "deadline": "within 72 hours",
        "basis": "GDPR Art. 33(1)",
        "content": [],
    },
    "recipient": {"name": "Compliance on call", "kind": "internal-compliance", "role": "compliance"},
    "signal": {
        "kind": "leak-caught",
        "source": "gateway:eu",
        "severity": "high",
        "surface": "backend",
        "summary": "payment card number in model output (4111…1111)",
    },
    "now": "2026-11-25T10:30:00Z",
}


def jobs(count: int) -> list[tuple[MessageKind, str]]:
    pairs = [(kind, language) for kind in MessageKind for language in LANGUAGES]
    return [pairs[i % len(pairs)] for i in range(count)]


def run_leakline(work: list[tuple[MessageKind, str]]) -> list[str]:
    return [render(kind, language=language, context=CONTEXT).subject for kind, language in work]


def baseline_environment() -> jinja2.Environment:
    # Plain text, as in leakline.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES)),
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for name, function in render_module._FILTERS.items():
        env.filters[name] = jinja2.pass_context(render_module._with_language(function))
    return env


def run_baseline(
    env: jinja2.Environment, variables: dict[str, dict[str, Any]], work: list[tuple[MessageKind, str]]
) -> list[str]:
    # The least a renderer can do: execute each template once; subject and body come out concatenated.
    return [env.get_template(f"{language}/{kind.value}.j2").render(variables[language]) for kind, language in work]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = jobs(args.messages)
    env = baseline_environment()
    variables = {}
    for language in LANGUAGES:
        known = render_module.derive("bench", CONTEXT)
        known.update(render_module._timing(CONTEXT))
        variables[language] = {**CONTEXT, "known": known, "kind": "", "language": language}
    # Warm both: template compilation and first-use caches are not what is measured.
    subjects, combined = run_leakline(work[:27]), run_baseline(env, variables, work[:27])
    if any(not " ".join(text.split()).startswith(subject) for subject, text in zip(subjects, combined, strict=True)):
        print("the baseline's output does not start with leakline's subject", file=sys.stderr)
        return 1
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        run_leakline(work)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_baseline(env, variables, work)
        theirs.append(time.perf_counter() - start)
    mine, base = statistics.median(ours), statistics.median(theirs)
    print(f"messages per round: {args.messages} (9 kinds x 3 languages), rounds: {args.rounds}, medians:")
    print(f"  leakline render(): {mine:.3f} s  = {mine / args.messages * 1e6:.0f} µs/message")
    print(f"  bare Jinja2:       {base:.3f} s  = {base / args.messages * 1e6:.0f} µs/message")
    print(f"  ratio leakline / baseline: {mine / base:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`leakline scan` as CI uses it: exit codes, output formats, baselines, suppressions, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import SHARED

LOGGING_ROUTE = """import OpenAI from "openai";
const client = new OpenAI();
export async function POST(req: Request) {
  const { message } = await req.json();
  const r = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: message }] });
  const answer = r.choices[0].message.content;
  console.log(answer);
  return Response.json({ ok: true });
}
"""

Cli = Callable[..., tuple[int, str, str]]


def test_version_and_help(cli: Cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("leakline ")
    code, out, _ = cli("--help")
    assert code == 0 and "scan" in out and "rules" in out


def test_json_output_shape_and_exit_code(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    code, out, _ = cli("scan", str(app), "--format", "json", "--rule", "LL007", "--no-progress")
    assert code == 1
    data = json.loads(out)
    assert [(f["rule"], f["path"], f["line"], f["column"]) for f in data["findings"]] == [
        ("LL007", "app/api/chat/route.ts", 7, 3)
    ]
    finding = data["findings"][0]
    assert finding["severity"] == "high" and finding["confidence"] == "high"
    assert len(finding["fingerprint"]) == 32
    assert finding["references"]["cwe"] == ["CWE-532"]
    assert finding["references"]["owasp_llm"] == ["LLM02:2025 Sensitive Information Disclosure"]
    assert data["stats"]["failing"] == 1 and data["stats"]["fail_on"] == "high"


def test_fail_on_threshold(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    assert cli("scan", str(app), "--rule", "LL007", "--fail-on", "critical")[0] == 0
    assert cli("scan", str(app), "--rule", "LL007", "--fail-on", "medium")[0] == 1


def test_fail_on_from_leakline_toml(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE, "leakline.toml": '[scan]\nfail_on = "critical"\n'})
    assert cli("scan", str(app), "--rule", "LL007")[0] == 0


# RFC 3986 in brief, for the schema's "uri" and "uri-reference" formats: jsonschema checks neither without an extra
# package, while upload-sarif does and rejects a whole log for one uri with a space in it.
_URI_CHARS = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*"
_ABSOLUTE_URI = re.compile(rf"[A-Za-z][A-Za-z0-9+.\-]*:{_URI_CHARS}(?:#{_URI_CHARS})?")
# A relative reference's first segment holds no ':' (it would read as a scheme).
_RELATIVE_REF = re.compile(rf"(?![^/?#]*:){_URI_CHARS}(?:#{_URI_CHARS})?")
URI_FORMATS = jsonschema.FormatChecker(formats=())


@URI_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or _ABSOLUTE_URI.fullmatch(value) is not None


@URI_FORMATS.checks("uri-reference")
def _is_uri_reference(value: object) -> bool:
    return not isinstance(value, str) or _is_uri(value) or _RELATIVE_REF.fullmatch(value) is not None


def test_the_uri_format_checker_can_fail() -> None:
    validator = jsonschema.Draft7Validator({"format": "uri-reference"}, format_checker=URI_FORMATS)
    for bad in ("apps/my web/route.ts", "app/[id]/route.ts", "100%.ts", "1:x/route.ts", "a#b#c"):
        assert not validator.is_valid(bad), bad
    for good in ("apps/my%20web/app/(shop)/@modal/%5Bid%5D/route.ts", "file:///repo/", ".env", "a/b:c.ts"):
        assert validator.is_valid(good), good


def test_sarif_validates_against_the_oasis_schema(cli: Cli, make_app: Callable[..., Path], tmp_path: Path) -> None:
    """Scanned as a monorepo's CI does: a subfolder of a git work tree, routes whose paths need encoding."""
    (tmp_path / ".git").mkdir()
    app = make_app(
        {
            "app/(shop)/api/chat/[id]/route.ts": LOGGING_ROUTE.replace(
                "  console.log(answer);",
                "  console.log(answer);\n  // leakline-ignore LL007: reviewed\n  console.info(answer);",
            )
            + "// leakline-ignore LL07: a typo\n"
        },
        name="apps/store front",
    )
    report = tmp_path / "out" / "leakline.sarif"
    code, _, _ = cli("scan", str(app), "--format", "sarif", "--output", str(report), "--rule", "LL007")
    assert code == 1
    log = json.loads(report.read_text())
    schema = json.loads((SHARED / "schemas" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft7Validator(schema, format_checker=URI_FORMATS).validate(log)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["LL007"]
    assert "## Fix" in run["tool"]["driver"]["rules"][0]["help"]["markdown"]
    results = [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in run["results"]]
    assert results == [("LL007", 7), ("LL007", 9)]
    assert "suppressions" not in run["results"][0]
    assert run["results"][1]["suppressions"] == [
        {"kind": "inSource", "status": "accepted", "justification": "reviewed"}
    ]
    assert all(len(r["partialFingerprints"]["leakline/v1"]) == 32 for r in run["results"])
    [typo] = run["invocations"][0]["toolExecutionNotifications"]
    assert typo["level"] == "warning" and run["invocations"][0]["executionSuccessful"] is True
    assert typo["message"]["text"].startswith("app/(shop)/api/chat/[id]/route.ts:")
    assert typo["message"]["text"].endswith(
        ": LL07 is not a leakline rule id (did you mean LL007?); `leakline rules` lists them"
    )
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    locations = [loc["physicalLocation"]["artifactLocation"] for r in run["results"] for loc in r["locations"]]
    assert {(loc["uri"], loc["uriBaseId"]) for loc in locations} == {
        ("apps/store%20front/app/(shop)/api/chat/%5Bid%5D/route.ts", "%SRCROOT%")
    }


def test_baseline_round_trip_keeps_suppressed_findings(cli: Cli, make_app: Callable[..., Path], tmp_path: Path) -> None:
    app = make_app(
        {"app/api/chat/route.ts": LOGGING_ROUTE, ".env": "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx\n"}
    )
    baseline = tmp_path / "baseline.json"
    code, _, err = cli("scan", str(app), "--rule", "LL007", "--write-baseline", "--baseline", str(baseline))
    assert code == 0 and "wrote 1 finding" in err
    stored = json.loads(baseline.read_text())
    assert stored["version"] == 1 and [e["rule"] for e in stored["findings"]] == ["LL007"]
    assert "sk-proj" not in baseline.read_text() and "evidence" not in baseline.read_text()
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--baseline", str(baseline), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [(f["line"], f.get("suppressed")) for f in data["findings"]] == [(7, "baseline")]
    # A line shift does not resurrect a baselined finding; a new finding is not hidden by it.
    route = app / "app/api/chat/route.ts"
    route.write_text(
        "// header comment\n"
        + LOGGING_ROUTE.replace("console.log(answer);", "console.log(answer);\n  console.warn(answer);")
    )
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--baseline", str(baseline), "--format", "json")
    assert code == 1
    assert [(f["line"], f.get("suppressed")) for f in json.loads(out)["findings"]] == [(8, "baseline"), (9, None)]


def test_inline_ignore_on_previous_line_suppresses_only_that_rule(cli: Cli, make_app: Callable[..., Path]) -> None:
    source = LOGGING_ROUTE.replace(
        "  console.log(answer);", "  // leakline-ignore LL010: other rule\n  console.log(answer);"
    )
    app = make_app({"app/api/chat/route.ts": source})
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--format", "json")
    assert code == 1 and [f["line"] for f in json.loads(out)["findings"] if f["suppressed"] is None] == [8]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "/nonexistent/shop"], "/nonexistent/shop: no such file or directory"),
        (["scan", "--rule", "LL999", "."], "unknown rule 'LL999'"),
        (["scan", "--skip-rule", "LL999", "."], "unknown rule 'LL999'"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str], message: str) -> None:
    code, _, err = cli(*args)
    assert code == 2 and message in err


def test_not_a_next_app(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"dependencies": {"react": "19.0.0"}}')
    code, _, err = cli("scan", str(tmp_path))
    assert code == 2 and "not a Next.js app" in err


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[scan]\nexlude = ["x"]\n', "leakline.toml: scan.exlude: unknown key"),
        (
            '[scan]\nfail_on = "severe"\n',
            "leakline.toml: scan.fail_on: expected one of 'critical', 'high', 'medium' or 'low', got 'severe'",
        ),
        (
            '[residency]\nallowed_regions = "fra1"\n',
            "leakline.toml: residency.allowed_regions: expected an array, got 'fra1'",
        ),
        ("[scan\n", "leakline.toml: invalid TOML"),
        (
            '[scan]\ndisable_rules = ["LL006", "LL07"]\n',
            "leakline.toml: scan.disable_rules.1: expected a rule id (did you mean 'LL007'? known: LL001…LL020,"
            " see `leakline rules`), got 'LL07'",
        ),
        (
            '[scan]\ndisable_rules = ["LL099"]\n',
            "leakline.toml: scan.disable_rules.0: expected a rule id (known: LL001…LL020, see `leakline rules`),"
            " got 'LL099'",
        ),
        ('[scan]\ndisable_rules = "LL006"\n', "leakline.toml: scan.disable_rules: expected an array, got 'LL006'"),
    ],
)
def test_broken_leakline_toml_names_file_and_key(
    cli: Cli, make_app: Callable[..., Path], toml: str, message: str
) -> None:
    app = make_app({"leakline.toml": toml})
    code, _, err = cli("scan", str(app))
    assert code == 2
    assert message in err


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"dependencies": {"next": "15.0.0"}}')
    (tmp_path / "leakline.toml").write_text("[scan]\nfail_on = 3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "scan", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "scan.fail_on: expected one of" in proc.stderr and "got 3" in proc.stderr


def test_write_baseline_goes_to_the_configured_file_and_rewriting_keeps_accepted_findings(
    cli: Cli, make_app: Callable[..., Path]
) -> None:
    app = make_app(
        {"app/api/chat/route.ts": LOGGING_ROUTE, "leakline.toml": '[scan]\nbaseline = "ci/leakline-baseline.json"\n'}
    )
    code, _, err = cli("scan", str(app), "--rule", "LL007", "--write-baseline")
    assert code == 0 and "ci/leakline-baseline.json" in err
    first = json.loads((app / "ci/leakline-baseline.json").read_text())["findings"]
    assert [e["rule"] for e in first] == ["LL007"]
    assert cli("scan", str(app), "--rule", "LL007")[0] == 0  # the configured baseline suppresses it
    code, _, err = cli("scan", str(app), "--rule", "LL007", "--write-baseline")
    assert code == 0 and "wrote 1 finding" in err
    assert json.loads((app / "ci/leakline-baseline.json").read_text())["findings"] == first


@pytest.mark.parametrize("target", ["/proc/nope/baseline.json", "{tmp}"])
def test_unwritable_baseline_target_is_a_usage_error(
    cli: Cli, make_app: Callable[..., Path], tmp_path: Path, target: str
) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    code, _, err = cli("scan", str(app), "--write-baseline", "--baseline", target.format(tmp=tmp_path))
    assert code == 2 and "baseline" in err


def _monorepo(root: Path, apps: dict[str, str]) -> None:
    """apps/<name> for each name, with that leakline.toml and the logging route."""
    for name, toml in apps.items():
        app = root / "apps" / name
        (app / "app/api/chat").mkdir(parents=True)
        (app / "package.json").write_text('{"dependencies": {"next": "15.2.4"}}')
        (app / "leakline.toml").write_text(toml)
        (app / "app/api/chat/route.ts").write_text(LOGGING_ROUTE)


def test_monorepo_apps_keep_their_own_fail_on_and_baselines(cli: Cli, tmp_path: Path) -> None:
    _monorepo(tmp_path, {"a": '[scan]\nfail_on = "critical"\n', "b": '[scan]\nbaseline = "base.json"\n'})
    b = tmp_path / "apps" / "b"
    assert cli("scan", str(b), "--rule", "LL007", "--write-baseline")[0] == 0
    # From the monorepo root: a's high finding is below its own threshold, b's is baselined.
    code, out, _ = cli("scan", str(tmp_path), "--rule", "LL007", "--format", "json")
    assert code == 0
    assert [(f["path"], f.get("suppressed")) for f in json.loads(out)["findings"]] == [
        ("apps/a/app/api/chat/route.ts", None),
        ("apps/b/app/api/chat/route.ts", "baseline"),
    ]


def test_monorepo_apps_with_different_fail_on_are_reported_per_app(cli: Cli, tmp_path: Path) -> None:
    _monorepo(tmp_path, {"web": '[scan]\nfail_on = "medium"\n', "admin": ""})
    code, out, _ = cli("scan", str(tmp_path), "--rule", "LL007", "--format", "json")
    assert code == 1
    stats = json.loads(out)["stats"]
    assert (stats["failing"], stats["fail_on_by_app"]) == (2, {"apps/admin": "high", "apps/web": "medium"})
    code, out, _ = cli("scan", str(tmp_path), "--rule", "LL007", "--no-progress")
    assert code == 1
    assert out.splitlines()[-1] == (
        "2 finding(s) at or above their app's [scan] fail_on: 1 in apps/admin (at or above high), "
        "1 in apps/web (at or above medium)"
    )
    # --fail-on overrides every app's: one threshold again.
    code, out, _ = cli("scan", str(tmp_path), "--rule", "LL007", "--no-progress", "--fail-on", "high")
    assert out.splitlines()[-1] == "2 finding(s) at or above --fail-on high"


def test_missing_baseline_hint_is_a_command_that_creates_that_file(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    target = app / "ci" / "base.json"
    code, _, err = cli("scan", str(app), "--baseline", str(target))
    assert code == 2
    assert f"{target}: baseline file not found" in err
    assert err.rstrip().endswith(f"hint: create it with `leakline scan {app} --write-baseline --baseline {target}`")
    (app / "leakline.toml").write_text('[scan]\nbaseline = "ci/base.json"\n')
    code, _, err = cli("scan", str(app))
    assert code == 2 and err.rstrip().endswith(f"hint: create it with `leakline scan {app} --write-baseline`")
    assert cli("scan", str(app), "--write-baseline")[0] == 0 and target.is_file()


def test_exclude_accepts_folder_names_as_written_in_gitignore_style(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app(
        {
            "app/api/chat/route.ts": LOGGING_ROUTE,
            "pages/api/old.ts": LOGGING_ROUTE,
            "legacy/api/chat.ts": LOGGING_ROUTE,
            "gen/chat.ts": LOGGING_ROUTE,
            "leakline.toml": '[scan]\nexclude = ["pages", "./legacy/", "./gen/**"]\n',
        }
    )
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--format", "json")
    data = json.loads(out)
    assert code == 1 and [f["path"] for f in data["findings"]] == ["app/api/chat/route.ts"]
    assert data["stats"]["skipped"] == {"excluded by [scan] exclude": 3}


def test_write_baseline_for_one_rule_keeps_the_other_rules_accepted_findings(
    cli: Cli, make_app: Callable[..., Path]
) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    baseline = app / ".leakline-baseline.json"
    assert cli("scan", str(app), "--write-baseline")[0] == 0
    first = json.loads(baseline.read_text())["findings"]
    assert {e["rule"] for e in first} >= {"LL001", "LL007"}
    code, _, err = cli("scan", str(app), "--rule", "ll007", "--write-baseline")
    assert code == 0 and f"wrote {len(first)} finding(s)" in err
    assert json.loads(baseline.read_text())["findings"] == first
    code, out, _ = cli("scan", str(app), "--format", "json", "--baseline", str(baseline))
    assert code == 0 and {f.get("suppressed") for f in json.loads(out)["findings"]} == {"baseline"}


def test_write_baseline_from_the_app_folder_keeps_every_app_in_one_configured_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The root app names the default file in leakline.toml; a nested app has no leakline.toml. Both land in
    # the same file, and the nested app's write must not replace the root app's findings.
    root = tmp_path / "shop"
    for app, extra in (
        (root, {"leakline.toml": '[scan]\nbaseline = ".leakline-baseline.json"\n'}),
        (root / "admin", {}),
    ):
        (app / "app/api/chat").mkdir(parents=True)
        (app / "package.json").write_text('{"dependencies": {"next": "15.2.4"}}')
        (app / "app/api/chat/route.ts").write_text(LOGGING_ROUTE)
        for rel, text in extra.items():
            (app / rel).write_text(text)
    monkeypatch.chdir(root)
    code, _, err = cli("scan", ".", "--rule", "LL007", "--write-baseline")
    assert code == 0 and err.count("wrote ") == 1 and "wrote 2 finding(s)" in err
    entries = json.loads((root / ".leakline-baseline.json").read_text())["findings"]
    assert sorted(e["path"] for e in entries) == ["admin/app/api/chat/route.ts", "app/api/chat/route.ts"]
    code, out, _ = cli("scan", ".", "--rule", "LL007", "--format", "json", "--baseline", ".leakline-baseline.json")
    assert code == 0 and [f.get("suppressed") for f in json.loads(out)["findings"]] == ["baseline", "baseline"]


def test_trailing_ignore_covers_only_its_own_line_and_ids_are_case_insensitive(
    cli: Cli, make_app: Callable[..., Path]
) -> None:
    source = LOGGING_ROUTE.replace(
        "  console.log(answer);",
        "  console.log(answer); // leakline-ignore ll007: dev only\n  console.warn(answer);\n"
        "  {/* leakline-ignore LL007: reviewed */}\n  console.info(answer);",
    )
    app = make_app({"app/api/chat/route.ts": source})
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--format", "json")
    assert code == 1
    assert [(f["line"], f.get("suppressed")) for f in json.loads(out)["findings"]] == [
        (7, "dev only"),
        (8, None),
        (10, "reviewed"),
    ]


def test_known_sections_are_exactly_the_settings_fields() -> None:
    from leakline.config import Settings
    from leakline.configfile import KNOWN_SECTIONS

    assert set(Settings.model_fields) - {"source"} == KNOWN_SECTIONS


def test_scan_rejects_unknown_top_level_tables_and_ignores_other_domains(
    cli: Cli, make_app: Callable[..., Path]
) -> None:
    app = make_app({"leakline.toml": '[gatway]\nx = 1\n[gateway]\ncountry_header = "cf-ipcountry"\n'})
    code, _, err = cli("scan", str(app))
    assert code == 2 and "leakline.toml: gatway: unknown key" in err


def test_scan_settings_records_mirror_the_validating_models() -> None:
    """`leakline scan` reads plain NamedTuples (no pydantic for apps without a leakline.toml); the models that
    validate a file must have the same fields and defaults."""
    from leakline.configfile import ResidencyOptions, ScanAppSettings, ScanOptions
    from leakline.configmodels import ResidencySettings, ScanSections, ScanSettings

    for plain, model in ((ResidencyOptions, ResidencySettings), (ScanOptions, ScanSettings)):
        assert list(plain._fields) == list(model.model_fields)
        assert plain()._asdict() == model().model_dump()
    assert set(ScanAppSettings._fields) - {"source"} == set(ScanSections.model_fields)


def test_leakline_toml_values_reach_the_scan(tmp_path: Path) -> None:
    from leakline.configfile import load_scan_settings

    toml = tmp_path / "leakline.toml"
    toml.write_text(
        '[residency]\nallowed_regions = ["fra1"]\n[scan]\nexclude = ["gen/**"]\nfail_on = "low"\n'
        'baseline = "b.json"\nmax_file_bytes = 10\ncountry_headers = ["x-country"]\ndisable_rules = ["ll006"]\n'
        "[gateway]\nport = 1\n"
    )
    settings = load_scan_settings(toml)
    assert settings.residency.allowed_regions == ["fra1"] and settings.source == str(toml)
    assert (settings.scan.exclude, settings.scan.fail_on, settings.scan.baseline) == (["gen/**"], "low", "b.json")
    assert (settings.scan.max_file_bytes, settings.scan.country_headers) == (10, ["x-country"])
    assert settings.scan.disable_rules == ["LL006"]  # read as --rule reads ids
    assert load_scan_settings(tmp_path / "missing.toml").source is None


# Imported only when needed: validation models, Rich (text output, errors), PyYAML (pnpm lockfiles), Hyperscan
# (the prefilter of large apps) and multiprocessing (workers of large apps) cost a small scan most of its start-up.
STARTUP_FREE = ("pydantic", "rich", "yaml", "hyperscan", "multiprocessing")

IMPORTS_AFTER_SCAN = """
import sys
from leakline.cli import main
sys.argv = ["leakline", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    print(exit.code, sorted({name.split(".")[0] for name in sys.modules}), file=sys.stderr)
"""


def _modules_after(*args: str) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER_SCAN, *args], capture_output=True, text=True, check=False, timeout=120
    )
    code, _, modules = proc.stderr.strip().splitlines()[-1].partition(" ")
    return int(code), set(json.loads(modules.replace("'", '"')))


def test_a_json_scan_of_an_app_without_leakline_toml_imports_none_of_the_heavy_modules(
    make_app: Callable[..., Path], tmp_path: Path
) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    code, modules = _modules_after("scan", str(app), "-f", "json", "-o", str(tmp_path / "r.json"))
    assert code == 1 and json.loads((tmp_path / "r.json").read_text())["findings"]
    assert modules.isdisjoint(STARTUP_FREE), modules & set(STARTUP_FREE)
    # The same command with a leakline.toml validates it (pydantic), and a text report brings Rich.
    (app / "leakline.toml").write_text('[scan]\nfail_on = "critical"\n')
    code, modules = _modules_after("scan", str(app), "--rule", "LL007")
    assert code == 0 and {"pydantic", "rich"} <= modules


def test_missing_baseline_hint_quotes_paths_with_spaces(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    target = app / "ci files" / "base line.json"
    code, _, err = cli("scan", str(app), "--baseline", str(target))
    assert code == 2
    hint = err.rstrip().rsplit("\n", 1)[-1]
    assert hint == f"hint: create it with `leakline scan {app} --write-baseline --baseline '{target}'`"


def test_skip_rule_leaves_the_rule_out_and_the_reports_say_so(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    code, out, _ = cli("scan", str(app), "-f", "json", "--skip-rule", "ll006", "--skip-rule", "LL001")
    data = json.loads(out)
    assert code == 1
    assert [(f["rule"], f["path"], f["line"]) for f in data["findings"] if f["path"].startswith("app/")] == [
        ("LL007", "app/api/chat/route.ts", 7)
    ]
    assert not {"LL001", "LL006"} & {f["rule"] for f in data["findings"]}
    assert data["stats"]["disabled_rules"] == {"LL001": ["--skip-rule"], "LL006": ["--skip-rule"]}
    code, out, _ = cli("scan", str(app), "--skip-rule", "LL006", "--no-progress")
    assert code == 1 and "not run: LL006, disabled by --skip-rule\n" in out
    # Near miss: without it LL006 reports the route, and the reports list no disabled rule.
    code, out, _ = cli("scan", str(app), "-f", "json")
    data = json.loads(out)
    assert ("LL006", "app/api/chat/route.ts", 3) in {(f["rule"], f["path"], f["line"]) for f in data["findings"]}
    assert data["stats"]["disabled_rules"] == {}
    assert "not run:" not in cli("scan", str(app), "--no-progress")[1]


def test_disable_rules_in_leakline_toml_is_named_in_both_reports(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE, "leakline.toml": '[scan]\ndisable_rules = ["LL006"]\n'})
    code, out, _ = cli("scan", str(app), "-f", "json")
    data = json.loads(out)
    assert code == 1 and "LL006" not in {f["rule"] for f in data["findings"]}
    assert data["stats"]["disabled_rules"] == {"LL006": ["leakline.toml: scan.disable_rules"]}
    code, out, _ = cli("scan", str(app), "--no-progress")
    assert "not run: LL006, disabled by leakline.toml: scan.disable_rules\n" in out
    # An app that disables a rule only for itself has no say over --rule: the command line asked for it.
    code, out, _ = cli("scan", str(app), "-f", "json", "--rule", "LL006")
    data = json.loads(out)
    assert [(f["rule"], f["path"], f["line"]) for f in data["findings"]] == [("LL006", "app/api/chat/route.ts", 3)]
    assert data["stats"]["disabled_rules"] == {}


def test_a_rule_given_to_both_rule_and_skip_rule_is_a_usage_error(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    code, _, err = cli("scan", str(app), "--rule", "LL006", "--skip-rule", "ll006", "--rule", "LL007")
    assert code == 2 and err.splitlines()[0] == "LL006: given to both --rule and --skip-rule"


def test_write_baseline_keeps_the_accepted_findings_of_rules_that_did_not_run(
    cli: Cli, make_app: Callable[..., Path]
) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    baseline = app / ".leakline-baseline.json"
    assert cli("scan", str(app), "--write-baseline")[0] == 0
    first = json.loads(baseline.read_text())["findings"]
    assert ("LL006", "app/api/chat/route.ts") in {(e["rule"], e["path"]) for e in first}
    # Skipped on the command line, then switched off in leakline.toml: LL006's accepted finding stays either way.
    code, _, err = cli("scan", str(app), "--skip-rule", "LL006", "--write-baseline")
    assert code == 0 and f"wrote {len(first)} finding(s)" in err
    assert json.loads(baseline.read_text())["findings"] == first
    (app / "leakline.toml").write_text('[scan]\ndisable_rules = ["LL006"]\n')
    assert cli("scan", str(app), "--write-baseline")[0] == 0
    assert json.loads(baseline.read_text())["findings"] == first
    # Near miss: a full scan that no longer finds it drops it (the route was fixed, not skipped).
    (app / "leakline.toml").unlink()
    (app / "middleware.ts").write_text(
        "import { NextResponse } from 'next/server';\n"
        "export function middleware(req: Request) {\n"
        "  if (req.headers.get('x-vercel-ip-country') !== 'DE') return new Response(null, { status: 451 });\n"
        "  return NextResponse.next();\n"
        "}\n"
    )
    assert cli("scan", str(app), "--write-baseline")[0] == 0
    assert "LL006" not in {e["rule"] for e in json.loads(baseline.read_text())["findings"]}

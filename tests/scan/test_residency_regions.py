"""[residency] allowed_regions takes Vercel region ids only: an unknown id stops the scan naming the file, the key,
the value and the id it most likely meant; an id in capitals is read lower-cased, with a warning."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from leakline.configmodels import VERCEL_REGIONS, closest_vercel_region

Cli = Callable[..., tuple[int, str, str]]
ROUTE = (
    "export const runtime = 'edge';\n"
    "export const preferredRegion = ['fra1', 'iad1'];\n"
    "export async function POST(req: Request) {\n"
    "  const r = await fetch('http://10.0.0.5:11434/v1/chat/completions', { method: 'POST', body: await req.text() });\n"
    "  return new Response(await r.text());\n"
    "}\n"
)


def test_unknown_region_ids_stop_the_scan_naming_file_key_value_and_closest_id(
    cli: Cli, make_app: Callable[..., Path]
) -> None:
    toml = '[residency]\nallowed_regions = ["eu-central-1", "fra1", "fra2", "Paris"]\n'
    app = make_app({"leakline.toml": toml, "app/api/chat/route.ts": ROUTE})
    code, out, err = cli("scan", str(app), "--rule", "LL013")
    source = app / "leakline.toml"
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"{source}: residency.allowed_regions.0: expected a Vercel region id, whatever platform runs the app "
        "(did you mean 'fra1': Frankfurt, AWS eu-central-1?), got 'eu-central-1'",
        f"{source}: residency.allowed_regions.2: expected a Vercel region id, whatever platform runs the app "
        "(did you mean 'fra1': Frankfurt, AWS eu-central-1?), got 'fra2'",
        f"{source}: residency.allowed_regions.3: expected a Vercel region id, whatever platform runs the app "
        "(did you mean 'cdg1': Paris, AWS eu-west-3?), got 'Paris'",
    ]


def test_region_ids_in_capitals_are_read_lower_cased_with_a_warning(cli: Cli, make_app: Callable[..., Path]) -> None:
    """The reviewer's ["FRA1", ...] was accepted and then every fra1 entry reported 'outside allowed_regions (FRA1, …)'."""
    app = make_app(
        {"leakline.toml": '[residency]\nallowed_regions = ["FRA1", " cdg1 "]\n', "app/api/chat/route.ts": ROUTE}
    )
    code, out, err = cli("scan", str(app), "--rule", "LL013", "--format", "json")
    source = app / "leakline.toml"
    assert err.splitlines() == [
        f"warning: {source}: residency.allowed_regions.0: 'FRA1' read as 'fra1' (Vercel region ids are lower-case)",
        f"warning: {source}: residency.allowed_regions.1: ' cdg1 ' read as 'cdg1' (Vercel region ids are lower-case)",
    ]
    findings = json.loads(out)["findings"]
    assert code == 1
    assert [(f["rule"], f["path"], f["line"], f["message"]) for f in findings] == [
        (
            "LL013",
            "app/api/chat/route.ts",
            2,
            "LLM route app/api/chat/route.ts prefers region(s) iad1, outside [residency] allowed_regions (cdg1, fra1)",
        )
    ]


def test_lower_case_ids_give_no_warning(cli: Cli, make_app: Callable[..., Path]) -> None:
    app = make_app(
        {"leakline.toml": '[residency]\nallowed_regions = ["fra1", "iad1"]\n', "app/api/chat/route.ts": ROUTE}
    )
    code, _, err = cli("scan", str(app), "--rule", "LL013", "--format", "json")
    assert (code, err) == (0, "")


@pytest.mark.parametrize(
    ("written", "closest"),
    [
        ("eu-central-1", "fra1"),
        ("EU-WEST-3", "cdg1"),
        ("us-east-1", "iad1"),
        ("frankfurt", "fra1"),
        ("Tokyo", "hnd1"),
        ("fra2", "fra1"),
        ("sfo", "sfo1"),
        ("lhr", "lhr1"),
    ],
)
def test_closest_vercel_region(written: str, closest: str) -> None:
    assert closest_vercel_region(written) == closest


def test_the_region_list_is_the_documented_one() -> None:
    assert sorted(VERCEL_REGIONS) == (
        [
            "arn1",
            "bom1",
            "cdg1",
            "cle1",
            "cpt1",
            "dub1",
            "dxb1",
            "fra1",
            "gru1",
            "hkg1",
            "hnd1",
            "iad1",
            "icn1",
            "kix1",
            "lhr1",
            "pdx1",
            "sfo1",
            "sin1",
            "syd1",
            "yul1",
        ]
    )
    assert len({aws for _, aws in VERCEL_REGIONS.values()}) == len(VERCEL_REGIONS)

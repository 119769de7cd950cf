"""A symlink to nothing is skipped with a reason of its own: "unreadable file" sent users after permissions."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from leakline.scan.engine import scan

MakeApp = Callable[..., Path]
ROUTE = "app/api/chat/route.ts"
LOGGING_ROUTE = (
    "import OpenAI from 'openai';\nconst client = new OpenAI();\nexport async function POST(req: Request) {\n"
    "  const r = await client.chat.completions.create({ model: 'm', messages: [] });\n"
    "  console.log(r.choices[0].message.content);\n  return Response.json({});\n}\n"
)


def test_a_dangling_symlink_is_counted_as_a_broken_symlink(make_app: MakeApp) -> None:
    app = make_app({ROUTE: LOGGING_ROUTE, "lib/util.ts": "export const u = 1;\n"})
    (app / "app" / "dangling.ts").symlink_to("nowhere")
    (app / "lib" / "self.ts").symlink_to("self.ts")  # a link to itself: stat fails with ELOOP
    # Look-alike: a link to a file that exists is read like any file, not skipped.
    (app / "lib" / "alias.ts").symlink_to("util.ts")
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert result.stats.skipped_files == [("app/dangling.ts", "broken symlink"), ("lib/self.ts", "broken symlink")]
    assert dict(result.stats.skipped) == {"broken symlink": 2}
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("LL007", ROUTE, 5)]


def test_an_unreadable_file_keeps_its_reason(make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """A regular file that cannot be stat'ed (an I/O error) is still an unreadable file."""
    app = make_app({ROUTE: LOGGING_ROUTE, "lib/util.ts": "export const u = 1;\n"})
    real_stat = os.stat

    def flaky(path: str, *args: object, **kwargs: object) -> os.stat_result:
        if str(path).endswith("util.ts"):
            raise OSError(5, "Input/output error", path)
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", flaky)
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert result.stats.skipped_files == [("lib/util.ts", "unreadable file")]

"""`[scan]` values out of range are reported like every other config error: file, key, what was expected, got what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakline.errors import ConfigError
from leakline.scan.engine import scan


@pytest.mark.parametrize("value", [-1, 0])
def test_max_file_bytes_below_one_is_worded_like_the_other_config_errors(tmp_path: Path, value: int) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"next": "15.5.7"}}))
    (tmp_path / "leakline.toml").write_text(f"[scan]\nmax_file_bytes = {value}\n")
    with pytest.raises(ConfigError) as caught:
        scan(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'leakline.toml'}: scan.max_file_bytes: expected a size in bytes greater than 0 "
        f"(the default is 2000000), got {value}"
    )


def test_a_positive_max_file_bytes_is_read(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"next": "15.5.7"}}))
    (tmp_path / "leakline.toml").write_text("[scan]\nmax_file_bytes = 1\n")
    assert scan(tmp_path).apps[0].settings.scan.max_file_bytes == 1

"""The [weights] section of leakline.toml: valid tables load, mistakes name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakline.config import load_settings
from leakline.errors import ConfigError


def test_weights_section_loads(tmp_path: Path) -> None:
    path = tmp_path / "leakline.toml"
    path.write_text(
        """
[weights]
region = "eu-west"
port = 9443

[weights.tls]
ca = "ca.pem"
require_client_cert = true

[[weights.models]]
id = "llama"
path = "llama.llw"
allowed_regions = ["eu-west", "eu-central"]
""",
        encoding="utf-8",
    )
    weights = load_settings(path).weights
    assert weights.region == "eu-west"
    assert weights.port == 9443
    assert weights.bind == "127.0.0.1"
    assert weights.tls.ca == "ca.pem"
    assert weights.tls.require_client_cert is True
    assert [(m.id, m.path, m.allowed_regions) for m in weights.models] == [
        ("llama", "llama.llw", ["eu-west", "eu-central"])
    ]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[weights.models]]\nid = "m"\npath = "m.llw"\nallowed_region = ["eu"]\n',
         "weights.models.0.allowed_region: unknown key"),
        ('[weights]\nport = "8443"\n', "weights.port: expected an integer, got '8443'"),
        ('[[weights.models]]\nid = "m"\n', "weights.models.0.path: required key is missing"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "leakline.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert f"{path}: {message}" in caught.value.message

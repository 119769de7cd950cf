"""Scan tests keep compiled Hyperscan databases in a folder of their own, not in the user's ~/.cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leakline.scan.hscache import CACHE_DIR_ENV, NO_CACHE_ENV


@pytest.fixture(autouse=True, scope="session")
def _private_hyperscan_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("leakline-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_DIR_ENV, str(folder))
        patch.delenv(NO_CACHE_ENV, raising=False)
        yield folder

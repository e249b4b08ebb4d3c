"""Fixtures for the governance tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.governance.govstores import build_store


@pytest.fixture
def store_factory(tmp_path: Path):
    counter = iter(range(10_000))

    def factory(records: list[dict[str, Any]], **kwargs: Any) -> Path:
        return build_store(tmp_path / f"store{next(counter)}", records, **kwargs)

    return factory

"""Performance-path tests: store pickling into DataLoader workers, filesystem URIs, benchmark building blocks."""

from __future__ import annotations

import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    # also listed in pyproject.toml's markers; registered here so --strict-markers accepts it either way
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped without one); run by scripts/gpu_check.sh")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)

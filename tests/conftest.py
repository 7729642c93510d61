"""Shared fixtures. ``shared_dir`` is the workplace's ../shared/ beside the project root (also in CI)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = ROOT.parent / "shared"
    if not (path / "data").is_dir():
        pytest.skip("../shared/data is not beside the project root")
    return path

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden import pin_kernels

pin_kernels()  # before any test module imports numpy: the golden results need it


@pytest.fixture
def write_yaml(tmp_path: Path):
    """Write a scenario file and return its path."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write

"""Shared fixtures: a real smoke data set (tokenizer + shards), built once per test session."""
from __future__ import annotations

import pytest

from golf.smoke import build_smoke_data, data_env


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("smoke_data")
    build_smoke_data(data_dir)
    return data_dir


@pytest.fixture(scope="session")
def smoke_data_env(smoke_data):
    return data_env(smoke_data)

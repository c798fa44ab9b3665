import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data_dir():
    """The real data sets: ``$VAE_DATA_DIR``, else ``../shared/data`` beside the checkout."""
    candidates = [os.environ.get("VAE_DATA_DIR"), REPO_ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "mnist").is_dir():
            return Path(candidate).resolve()
    pytest.skip("no local copy of the data sets: set VAE_DATA_DIR (CI uses ../shared/data)")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty data directory that the loaders will search, and a private cache directory."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("VAE_DATA_DIR", str(folder))
    monkeypatch.setattr("helpers.config.cache_dir", lambda: tmp_path / "cache")
    return folder

"""Shared fixtures. MNIST comes from $LIVEDIGITS_MNIST (CI sets it to ../shared/data/mnist)."""
import os
from pathlib import Path

import numpy as np
import pytest

from livedigits.training.data import load_mnist

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture(scope="session")
def realworld() -> Path:
    """The labelled real photos; $LIVEDIGITS_REALWORLD, else beside the MNIST copy."""
    env = os.environ.get("LIVEDIGITS_REALWORLD")
    path = Path(env) if env else Path(os.environ.get("LIVEDIGITS_MNIST", "")).parent / "realworld"
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real-world data not found at {path}; set LIVEDIGITS_REALWORLD")
        pytest.skip("real-world data not available (set LIVEDIGITS_REALWORLD)")
    return path


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(0)

"""Shared fixtures: the bundled UCI Adult data and a model trained on it once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "credit"
sys.path.insert(0, str(EXAMPLES))

from browser_helpers import CHROMIUM  # noqa: E402
from pgserver import db_url, pg_url  # noqa: E402,F401  (PostgreSQL fixtures)

HGB_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


@pytest.fixture(scope="session")
def adult_train():
    from adult import load_adult

    return load_adult("train")


@pytest.fixture(scope="session")
def adult_test():
    from adult import load_adult

    return load_adult("test")


@pytest.fixture(scope="session")
def adult_model(adult_train):
    """The demo's pipeline (one-hot + gradient-boosted trees; sex and race not used)."""
    from demo import FEATURES_CAT, FEATURES_NUM, build_model

    model = build_model(max_iter=60)
    model.fit(adult_train[FEATURES_CAT + FEATURES_NUM], adult_train["income"])
    return model


@pytest.fixture(scope="session")
def adult_files(tmp_path_factory, adult_train, adult_test, adult_model):
    """CSV files of both splits and the model as a skops artifact."""
    import skops.io as sio

    folder = tmp_path_factory.mktemp("adult")
    train_csv, test_csv = folder / "adult_train.csv", folder / "adult_test.csv"
    adult_train.to_csv(train_csv, index=False)
    adult_test.to_csv(test_csv, index=False)
    model_path = folder / "model.skops"
    sio.dump(adult_model, model_path)
    return {"train": train_csv, "test": test_csv, "model": model_path}


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium, headless, driven by Playwright (the browser tests share one)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (tests/setup_system.sh installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        yield b
        b.close()

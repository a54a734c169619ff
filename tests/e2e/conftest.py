"""Browser fixtures: Reflex's AppHarness runs the real app; Playwright drives
Debian's Chromium (Playwright's own browser download does not work here)."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.prod_site import CHROMIUM, CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parents[2]
STUB_ASSETS = Path(__file__).resolve().parent / "assets"


def _require_chromium() -> str:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    message = (
        f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
        "(Debian) or set CHATKIT_TEST_CHROMIUM to a Chromium binary"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def stub_script_url() -> Iterator[str]:
    """A loopback server for the stub `<openai-chatkit>` element (OpenAI's CDN is out
    of reach here), used as CHATKIT_SCRIPT_URL."""
    from starlette.staticfiles import StaticFiles

    from tests.live_server import serve

    with serve(StaticFiles(directory=STUB_ASSETS)) as base_url:
        yield f"{base_url}/chatkit-stub.js"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, stub_script_url: str) -> Iterator[object]:
    """The whole Reflex app (frontend dev server + backend) on free ports, with its
    own data dir and database, and ChatKit's script replaced by the stub."""
    _require_chromium()
    from reflex.testing import AppHarness

    from chatkit_app import services
    from chatkit_app.settings import get_settings

    data_dir = tmp_path_factory.mktemp("site-data")
    keys = ("CHATKIT_DATA_DIR", "CHATKIT_SECRET", "DATABASE_URL", "CHATKIT_SCRIPT_URL")
    previous = {key: os.environ.get(key) for key in keys}
    os.environ["CHATKIT_DATA_DIR"] = str(data_dir)
    os.environ["CHATKIT_SECRET"] = secrets.token_urlsafe(48)
    os.environ["CHATKIT_SCRIPT_URL"] = stub_script_url
    os.environ.pop("DATABASE_URL", None)
    get_settings.cache_clear()
    services.reset_services()
    try:
        with AppHarness.create(root=REPO_ROOT, app_name="chatkit_app") as harness:
            # The harness's backend listens on 127.0.0.1 and its frontend says localhost: two
            # sites to the browser, whose event socket would then not carry our SameSite
            # cookie. Visit the frontend under the backend's host name, as a deploy would.
            import reflex as rx

            assert harness.frontend_url is not None
            harness.frontend_url = harness.frontend_url.replace("//localhost:", "//127.0.0.1:")
            rx.config.get_config().deploy_url = harness.frontend_url.rstrip("/")
            yield harness
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        services.reset_services()


@pytest.fixture(scope="session")
def branded_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A production site in native mode with a brand and per-type upload limits, for the
    composer and branding tests (one build for both)."""
    from tests.e2e.prod_site import copy_site, running_site
    from tests.e2e.test_prod_backend import _env

    _require_chromium()
    root = tmp_path_factory.mktemp("branded-site")
    copy_site(root)
    env = _env(
        root / "data",
        CHATKIT_SECRET=secrets.token_urlsafe(48),
        CHATKIT_UI_MODE="native",
        CHATKIT_SITE_TITLE="Acme Help",
        CHATKIT_UPLOAD_LIMITS="image/*=1MB, application/pdf=2MB",
    )
    with running_site(root, env) as url:
        yield url

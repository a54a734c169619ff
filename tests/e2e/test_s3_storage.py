"""The native UI with its files in an S3 bucket (`CHATKIT_STORAGE_URL=s3://...`, a real
S3-compatible server on loopback): an image picked in the composer goes to the bucket,
not the host's disk, and its preview is served from there, before and after sending."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.prod_site import copy_site, running_site, wait_until
from tests.e2e.test_native_ui import PNG_1PX
from tests.e2e.test_prod_backend import _env
from tests.s3_server import Bucket

pytestmark = pytest.mark.slow
_PREVIEW_LOADED = (
    "() => { const i = document.querySelector('[data-testid=attachment-preview]');"
    " return i && i.complete && i.naturalWidth === 1; }"
)


@pytest.fixture(scope="module")
def s3_site(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[tuple[str, Bucket, Path]]:
    from tests.e2e.conftest import _require_chromium
    from tests.s3_server import s3_client

    _require_chromium()
    bucket = Bucket(s3_endpoint, "chatkit-e2e-" + secrets.token_hex(4))
    s3_client(s3_endpoint).create_bucket(Bucket=bucket.name)
    root = tmp_path_factory.mktemp("s3-site")
    copy_site(root)
    env = _env(root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), CHATKIT_UI_MODE="native", **bucket.env())
    with running_site(root, env) as url:
        yield url, bucket, root / "data"


def test_an_image_goes_to_the_bucket_and_its_preview_shows(
    s3_site: tuple[str, Bucket, Path], browser: Any, tmp_path: Path
) -> None:
    url, bucket, data_dir = s3_site
    picture = tmp_path / "dot.png"
    picture.write_bytes(PNG_1PX)
    page = browser.new_page()
    try:
        page.goto(url)
        page.get_by_test_id("native-chat").wait_for(timeout=30_000)
        page.locator("#native-attachments input[type=file]").set_input_files([str(picture)])
        chips = page.get_by_test_id("pending-attachments").get_by_test_id("attachment-chip")
        expect(chips).to_have_count(1, timeout=20_000)
        page.wait_for_function(_PREVIEW_LOADED, timeout=15_000)  # served from the bucket
        wait_until(lambda: len(bucket.keys()) == 1)
        [key] = bucket.keys()
        assert bucket.client().get_object(Bucket=bucket.name, Key=key)["Body"].read() == PNG_1PX
        assert not (data_dir / "uploads").exists() or not any((data_dir / "uploads").iterdir())

        composer = page.get_by_test_id("composer-input")
        composer.fill("what did I send?")
        composer.press("Enter")
        expect(page.get_by_test_id("message-actions")).to_have_count(1, timeout=20_000)
        expect(page.get_by_test_id("assistant-message").first).to_contain_text("dot.png")

        page.reload()
        expect(page.get_by_test_id("attachment-preview")).to_have_count(1, timeout=30_000)
        page.wait_for_function(_PREVIEW_LOADED, timeout=15_000)
    finally:
        page.close()

"""A hosted (Agent Builder) workflow on the whole production site: `reflex run --env prod`
(frontend and backend on one port) with `CHATKIT_WORKFLOW_ID=wf_...`, OpenAI replaced by
the loopback fake and ChatKit's script by the stub element. ChatKit's `getClientSecret`
gets the secret minted on create, then a fresh one through the refresh route."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import REFLEX, copy_site, running_site
from tests.e2e.test_prod_backend import _env
from tests.fakes.openai_server import FakeOpenAI, running_fake

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = "wf_e2e_" + "0123456789abcdef" * 2
pytestmark = pytest.mark.slow


@dataclass
class HostedSite:
    url: str
    fake: FakeOpenAI
    openai_key: str
    log_path: Path


@pytest.fixture(scope="module")
def hosted_site(tmp_path_factory: pytest.TempPathFactory, stub_script_url: str) -> Iterator[HostedSite]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root = tmp_path_factory.mktemp("hosted-site")
    copy_site(root)
    openai_key = "sk-e2e-" + secrets.token_urlsafe(24)
    for fake in running_fake():
        env = _env(
            root / "data",
            CHATKIT_SECRET=secrets.token_urlsafe(48),
            CHATKIT_WORKFLOW_ID=WORKFLOW,
            CHATKIT_SCRIPT_URL=stub_script_url,
            OPENAI_API_KEY=openai_key,
            OPENAI_BASE_URL=fake.base_url,
        )
        with running_site(root, env) as url:
            yield HostedSite(url, fake, openai_key, root / "site.log")


def test_get_client_secret_uses_the_minted_secret_then_refreshes(hosted_site: HostedSite, browser: Any) -> None:
    fake = hosted_site.fake
    page = browser.new_page()
    try:
        page.goto(hosted_site.url)
        page.wait_for_function("() => window.__chatkitStub && window.__chatkitStub.options", timeout=90_000)
        shape = page.evaluate(
            "() => { const api = window.__chatkitStub.options.api;"
            " return {keys: Object.keys(api), fn: typeof api.getClientSecret}; }"
        )
        assert shape == {"keys": ["getClientSecret"], "fn": "function"}  # hosted: no url, no fetch

        created = fake.session_requests()
        assert len(created) == 1
        body = created[0].body
        assert body["workflow"] == {"id": WORKFLOW}
        assert body["user"].startswith("anon_")  # the server-decided visitor, not the browser's word
        assert created[0].headers["authorization"] == f"Bearer {hosted_site.openai_key}"
        first_upstream = next(iter(fake.sessions.values()))

        chatkit = "document.querySelector('openai-chatkit')"
        first = page.evaluate(f"() => {chatkit}.getClientSecret(null)")
        assert first == first_upstream["client_secret"]
        assert len(fake.session_requests()) == 1  # the secret minted on create, no new call

        second = page.evaluate(f"(current) => {chatkit}.getClientSecret(current)", first)
        assert second and second != first
        assert len(fake.session_requests()) == 2  # refresh minted a new upstream session ...
        cancels = fake.session_requests("/cancel")
        assert [r.path for r in cancels] == [
            f"/v1/chatkit/sessions/{first_upstream['id']}/cancel"
        ]  # ... and cancelled the old

        # Neither the OpenAI key nor our signing secret is anywhere the browser can see.
        seen = page.content() + json.dumps(page.evaluate("() => Object.keys(window.__chatkitStub.options)"))
        assert hosted_site.openai_key not in seen and "sk-" not in seen
        assert hosted_site.openai_key not in hosted_site.log_path.read_text(errors="replace")
    finally:
        page.close()


def test_a_bad_public_config_stops_the_start_with_the_field_named(tmp_path: Path) -> None:
    copy_site(tmp_path)
    config_path = tmp_path / "assets" / "chatkit-config.json"
    config = json.loads(config_path.read_text())
    config["workflows"]["assistant"]["ui"]["theme"]["radius"] = "huge"
    config_path.write_text(json.dumps(config))
    env = _env(tmp_path / "data", CHATKIT_SECRET=secrets.token_urlsafe(48))
    started = subprocess.run(
        [str(Path(REFLEX).with_name("python")), "-c", "import chatkit_app.chatkit_app"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 2
    assert "field 'workflows.assistant.ui.theme.radius'" in started.stderr
    assert "Traceback" not in started.stderr

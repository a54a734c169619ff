"""A turn that fails shows an inline card under the user's message, with the reason in
plain words and a Retry button that answers it (the loopback fake model's failure modes:
HTTP 500, no answer within the timeout, rate limiting). And edit-and-resend: the pencil
on the last user message puts it back in the box; sending replaces that exchange, in the
stored thread too."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.prod_site import copy_site, running_site
from tests.e2e.shots import shots
from tests.e2e.test_prod_backend import _env
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI

pytestmark = pytest.mark.slow

FINE = FakeBehavior(text="Here is a fine answer.")


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(behavior=FINE).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI) -> Iterator[str]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root = tmp_path_factory.mktemp("failures-site")
    copy_site(root)
    env = _env(
        root / "data",
        CHATKIT_SECRET=secrets.token_urlsafe(48),
        CHATKIT_UI_MODE="native",
        OPENAI_API_KEY="sk-test-" + "x" * 24,
        OPENAI_BASE_URL=model.base_url,
        CHATKIT_UPSTREAM_TIMEOUT_SECONDS="3",
    )
    with running_site(root, env) as url:
        yield url


@pytest.fixture
def page(browser: Any, model: FakeOpenAI) -> Iterator[Any]:
    model.behavior = FINE
    opened = browser.new_page()
    yield opened
    opened.close()
    model.behavior = FINE


def _ask(page: Any, site: str, text: str) -> None:
    page.goto(site)
    composer = page.get_by_test_id("composer-input")
    composer.wait_for(timeout=30_000)
    composer.fill(text)
    composer.press("Enter")


def _fails_then_retry_answers(page: Any, model: FakeOpenAI, title: str, reason: str, shot: str = "") -> None:
    from playwright.sync_api import expect

    card = page.get_by_test_id("turn-error")
    expect(card).to_contain_text(title, timeout=30_000)
    expect(card).to_contain_text(reason)
    expect(page.get_by_test_id("stop-button")).to_have_count(0)
    # Under the user's message: the card comes right after it in the conversation.
    order = page.locator('[data-testid="user-message"], [data-testid="assistant-message"], [data-testid="turn-error"]')
    expect(order.last).to_have_attribute("data-testid", "turn-error")
    expect(order.nth(-2)).to_have_attribute("data-testid", "user-message")
    if shot:
        shots(page, shot)
    model.behavior = FINE
    card.get_by_test_id("turn-error-retry").click()
    expect(page.get_by_test_id("assistant-message").last).to_have_text("Here is a fine answer.", timeout=30_000)
    expect(card).to_have_count(0)
    expect(page.get_by_test_id("user-message")).to_have_count(1)  # answered, not sent twice


def test_a_model_server_error_shows_a_card_and_retry_answers(site: str, page: Any, model: FakeOpenAI) -> None:
    model.behavior = FakeBehavior(status=500)
    _ask(page, site, "answer me despite a 500")
    _fails_then_retry_answers(page, model, "The model server failed", "HTTP 500", shot="failures-card-desktop")


def test_a_model_that_does_not_answer_in_time_shows_a_card(site: str, page: Any, model: FakeOpenAI) -> None:
    model.behavior = FakeBehavior(hang=True)
    _ask(page, site, "answer me despite a hang")
    _fails_then_retry_answers(page, model, "The model took too long", "did not answer within 3 s")


def test_a_rate_limited_model_shows_a_card(site: str, page: Any, model: FakeOpenAI) -> None:
    model.behavior = FakeBehavior(status=429, retry_after=30)
    _ask(page, site, "answer me despite a rate limit")
    _fails_then_retry_answers(page, model, "Too many requests", "rate limiting")


def test_the_last_message_can_be_edited_and_sent_again(site: str, page: Any, model: FakeOpenAI) -> None:
    from playwright.sync_api import expect

    _ask(page, site, "the first draft")
    answers = page.get_by_test_id("assistant-message")
    expect(answers).to_have_text(["Here is a fine answer."], timeout=30_000)
    expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=20_000)
    page.get_by_role("button", name="Edit message").click()
    composer = page.get_by_test_id("composer-input")
    expect(composer).to_have_value("the first draft")
    expect(page.get_by_test_id("editing-bar")).to_be_visible()
    model.behavior = FakeBehavior(text="An answer to the second draft.")
    composer.fill("the second draft")
    composer.press("Enter")
    expect(composer).to_have_value("", timeout=10_000)
    expect(page.get_by_test_id("user-message")).to_have_text(["the second draft"])
    expect(answers).to_have_text(["An answer to the second draft."], timeout=30_000)
    expect(page.get_by_test_id("editing-bar")).to_have_count(0)
    sent = json.dumps(model.requests[-1].body)
    assert "the second draft" in sent and "the first draft" not in sent  # the model saw the edit only
    page.reload()  # the stored thread holds the edited exchange only
    expect(page.get_by_test_id("user-message")).to_have_text(["the second draft"], timeout=30_000)
    expect(answers).to_have_text(["An answer to the second draft."])
    expect(page.get_by_test_id("thread-entry")).to_have_count(1)

"""Log redaction: what the servers around us log (Reflex's event dumps, access logs,
header dumps, tracebacks) leaves no cookie, bearer, client token, JWT or signed URL."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from chatkit_app.log_redaction import MASK, RedactingFilter, install, redact

CLIENT_TOKEN = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
COOKIE = "chatkit_anon=abcdefghijabcdefghijabcdefghij12.macmacmacmacmacmacmacmacmacmac12"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Event(token='{CLIENT_TOKEN}', router_data={{'headers': {{'cookie': '{COOKIE}'}}}})", COOKIE),
        (f"Event(token='{CLIENT_TOKEN}', name='x')", CLIENT_TOKEN),
        (f"{{'reflex-client-token': '{CLIENT_TOKEN}'}}", CLIENT_TOKEN),
        (f"Dropping stale x for token {CLIENT_TOKEN}, already superseded", CLIENT_TOKEN),
        (f"[(b'cookie', b'{COOKIE}'), (b'host', b'x')]", COOKIE),
        (f"[(b'authorization', b'Bearer {JWT}')]", JWT),
        ("Cookie: session=s3cr3tvalue; other=1\nHost: x", "s3cr3tvalue"),
        (f"Authorization: Bearer {JWT}", JWT),
        (f"refresh failed for {JWT}", JWT),
        ('GET /api/chatkit/attachments/a/preview?sig=YWxpY2U.cks_x.123.bWFj HTTP/1.1" 200', "YWxpY2U.cks_x.123.bWFj"),
        ("GET /callback?code=abc123secret&state=xyz987state HTTP/1.1", "abc123secret"),
        ('{"browser_token": "tok-abcdefgh12345", "client_secret": "ek_1234567890"}', "tok-abcdefgh12345"),
        ('{"browser_token": "tok-abcdefgh12345", "client_secret": "ek_1234567890"}', "ek_1234567890"),
    ],
)
def test_secrets_are_masked(text: str, secret: str) -> None:
    redacted = redact(text)
    assert secret not in redacted and MASK in redacted


def test_ordinary_lines_are_left_alone() -> None:
    for line in (
        "token_expired: the token expired (token_ttl_seconds=3600)",
        'GET /api/chatkit/workflows/assistant HTTP/1.1" 200',
        "created session cks_abc for user alice",
    ):
        assert redact(line) == line


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_a_handler_filter_redacts_arguments_and_tracebacks_at_any_level(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.debug("headers %s", {"cookie": COOKIE})
    try:
        raise KeyError(f"no handler for token='{CLIENT_TOKEN}'")
    except KeyError:
        logger.exception("event failed: %r", f"Authorization: Bearer {JWT}")
    output = stream.getvalue()
    assert "KeyError" in output and "Traceback" in output
    for secret in (COOKIE, CLIENT_TOKEN, JWT):
        assert secret not in output


def test_uvicorns_access_formatter_still_gets_its_five_arguments() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', None, None)
    record.args = ("127.0.0.1:5000", "GET", "/api/chatkit/attachments/a/preview?sig=secretsig", "1.1", 200)
    RedactingFilter().filter(record)
    line = AccessFormatter("%(message)s", use_colors=False).format(record)
    assert "secretsig" not in line and "200" in line and "GET" in line


def test_install_covers_the_servers_loggers_and_their_handlers() -> None:
    handler = logging.StreamHandler(io.StringIO())
    reflex = logging.getLogger("reflex")
    reflex.addHandler(handler)
    try:
        install()
        install()  # idempotent
        for name in ("", "reflex", "uvicorn.error", "uvicorn.access", "granian", "socketio", "engineio"):
            assert sum(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters) == 1, name
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        # a record made now is redacted whatever handler prints it later
        record = logging.getLogger("anything.else").makeRecord(
            "anything.else", logging.DEBUG, __file__, 1, "cookie: %s", (COOKIE,), None
        )
        assert COOKIE not in record.getMessage()
    finally:
        reflex.removeHandler(handler)

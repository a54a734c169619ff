"""For the ops tests: the backend's layers as `chatkit_app.py` stacks them around our API
(Reflex's own app aside), and reading Prometheus text."""

from __future__ import annotations

import socket
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp

from chatkit_app.api.app import create_api
from chatkit_app.auth.gate import SignInGate
from chatkit_app.ops.layer import OpsLayer
from chatkit_app.services import Services


def backend(services: Services) -> OpsLayer:
    """OpsLayer(sign-in gate(our API)), every layer on `services`."""
    provider: Callable[[], Services] = lambda: services  # noqa: E731
    inner: ASGIApp = SignInGate(create_api(provider), provider)
    return OpsLayer(inner, provider)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample (`name` as exposed, e.g. `chatkit_streamed_tokens_total`)
    with exactly these labels; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def silent_server() -> socket.socket:
    """A loopback port that accepts connections (the kernel's backlog) and never answers:
    a service that hangs. Close it when done."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock

"""The ops hooks sit at the bottom: `ops.metrics`, `ops.multiproc` and `ops.logs` import
nothing of the app, so the limits, the session issuer, the ChatKit server and the agent
runner may call them; and `ops.multiproc` does not import `prometheus_client`, which must
be imported only after it has set the metrics directory."""

from __future__ import annotations

import ast
from pathlib import Path

OPS = Path(__file__).resolve().parents[2] / "chatkit_app" / "ops"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_hooks_import_nothing_of_the_app_above_them() -> None:
    allowed = {"chatkit_app.ops", "chatkit_app.ops.multiproc"}
    for module in ("metrics.py", "multiproc.py", "logs.py"):
        app_imports = {name for name in _imports(OPS / module) if name.startswith("chatkit_app")}
        assert app_imports <= allowed, (module, app_imports)


def test_the_metrics_directory_is_prepared_without_prometheus_client() -> None:
    assert not any(name.startswith("prometheus_client") for name in _imports(OPS / "multiproc.py"))

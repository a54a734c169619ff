"""Layers import downward only: the fast paths sit below `workflows` and `chatkit_server`
(they may use `core` and `settings` of the app), and the session code asks a workflow
lookup (`core.workflow_lookup`) instead of importing the agents' registry. Read from the
sources' import statements, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "chatkit_app"


def _app_imports(package: str) -> dict[str, set[str]]:
    """For each module of `package`: the `chatkit_app` modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((APP / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "chatkit_app")
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(APP))] = {name for name in names if name.startswith("chatkit_app")}
    return found


def test_the_fast_paths_import_only_core_and_settings() -> None:
    allowed = ("chatkit_app.core", "chatkit_app.settings", "chatkit_app.fast_paths")
    imports = _app_imports("fast_paths")
    assert imports, "no fast_paths modules found"
    wrong = {module: sorted(n for n in names if not n.startswith(allowed)) for module, names in imports.items()}
    assert {module: names for module, names in wrong.items() if names} == {}


def test_the_session_code_does_not_import_workflows() -> None:
    for package in ("auth", "upstream"):
        imports = _app_imports(package)
        assert {
            m: sorted(n for n in names if n.startswith("chatkit_app.workflows")) for m, names in imports.items()
        } == {m: [] for m in imports}

"""`CHATKIT_WORKFLOW_MODULES`: modules that register workflows, `module:attribute` agents,
and a bad entry stopping the start with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatkit_app.settings import REPO_ROOT, Settings
from chatkit_app.workflows import modules, registry
from chatkit_app.workflows.config import WorkflowConfigError
from chatkit_app.workflows.registry import build_registry

AUTHOR_CODE = {
    "shop_agents/__init__.py": "",
    "shop_agents/exported.py": """
        from agents import Agent, function_tool

        @function_tool
        def stock(sku: str) -> str:
            return f"{sku}: 3 left"

        clerk = Agent(name="Shop clerk", instructions="Help with the shop.", tools=[stock])
        not_an_agent = 42
    """,
    "shop_agents/registers.py": """
        from agents import Agent
        from chatkit_app.workflows.registry import ModelChoice, Workflow, register

        register(Workflow(id="returns", name="Returns", agent=Agent(name="Returns"), models=[ModelChoice("m1", "M1")]))
    """,
    "shop_agents/quiet.py": "VALUE = 1\n",
    "shop_agents/broken.py": "import not_a_real_package_xyz\n",
}


@pytest.fixture
def author_code(tmp_path: Path) -> Iterator[Path]:
    for name, text in AUTHOR_CODE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    registered = list(registry._registered)
    modules._load.cache_clear()
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        registry._registered[:] = registered
        modules._load.cache_clear()
        for name in [m for m in sys.modules if m.startswith("shop_agents")]:
            del sys.modules[name]


def _settings(tmp_path: Path, entries: str) -> Settings:
    return Settings(_env_file=None, chatkit_data_dir=tmp_path / "data", chatkit_workflow_modules=entries)


def test_agents_and_registering_modules_become_workflows(author_code: Path) -> None:
    settings = _settings(
        author_code, "shop_agents.exported:clerk, shop=shop_agents.exported:clerk,shop_agents.registers"
    )
    workflows = build_registry(settings)
    clerk = workflows.get("clerk")
    assert (clerk.name, clerk.agent is not None, clerk.mode) == ("Shop clerk", True, "agent")
    assert workflows.get("shop").agent is clerk.agent
    returns = workflows.get("returns")
    assert returns.ui["composer"]["models"] == [{"id": "m1", "label": "M1"}]
    assert "instructions" not in str(clerk.public()) and "Help with the shop" not in str(clerk.public())


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("shop_agents.missing", "could not import 'shop_agents.missing': ModuleNotFoundError"),
        ("shop_agents.broken", "could not import 'shop_agents.broken': ModuleNotFoundError"),
        ("shop_agents.exported:nobody", "has no attribute 'nobody'"),
        ("shop_agents.exported:not_an_agent", "'not_an_agent' is a int, not an agents.Agent or a Workflow"),
        ("shop_agents.quiet", "registered no workflow"),
        ("bad id=shop_agents.exported:clerk", "expected module, module:attribute or id=module:attribute"),
    ],
)
def test_a_bad_entry_is_named(author_code: Path, entry: str, says: str) -> None:
    with pytest.raises(WorkflowConfigError) as caught:
        build_registry(_settings(author_code, f"shop_agents.exported:clerk,{entry}"))
    assert str(caught.value).startswith(f"CHATKIT_WORKFLOW_MODULES entry {entry!r}:")
    assert says in str(caught.value)


def test_a_bad_entry_stops_the_start_with_one_line(author_code: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CHATKIT_WORKFLOW_MODULES": "shop_agents.exported:nobody",
        "CHATKIT_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": os.pathsep.join([str(author_code), str(REPO_ROOT)]),
    }
    started = subprocess.run(
        [sys.executable, "-c", "import chatkit_app.chatkit_app"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 2
    assert started.stderr.strip().splitlines()[-1] == (
        "chatkit_app: CHATKIT_WORKFLOW_MODULES entry 'shop_agents.exported:nobody': "
        "'shop_agents.exported' has no attribute 'nobody'"
    )
    assert "Traceback" not in started.stderr

"""What the session code needs to know of workflows, without importing the agents.

Sessions name a workflow by id; issuing one checks that it exists, whether it runs at
OpenAI (`mode == "hosted"`) and what its public UI options are. `workflows.registry`
provides these (`WorkflowRegistry`, `Workflow`); `auth` depends only on this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class WorkflowInfo(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def mode(self) -> str: ...  # "agent" (runs here) or "hosted" (an Agent Builder workflow at OpenAI)

    @property
    def ui(self) -> Mapping[str, Any]: ...

    def public(self) -> dict[str, Any]:
        """What any client may read: never instructions, models or keys."""
        ...


class WorkflowLookup(Protocol):
    def find(self, workflow_id: str) -> WorkflowInfo | None:
        """The workflow, or None."""
        ...

    def get(self, workflow_id: str) -> WorkflowInfo:
        """The workflow; `NotFound` (code `workflow_not_found`) when there is none."""
        ...

    def hosted_ids(self) -> list[str]: ...

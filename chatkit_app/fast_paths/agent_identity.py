"""The Agents SDK's agent identity map, without signing every agent when no name repeats.

Each run builds a map from a stable key to every agent of its graph, twice (the tool-use
tracker and the sandbox's session manager). The SDK sorts the agents sharing a name by a
signature of their whole configuration (instructions, model settings, each tool's schema)
— and computes that signature for a name held by one agent too, where there is nothing
to sort: about 0.3 ms a run with three function tools, more with more tools. When every
name in the graph is unique, the map is simply `{agent.name: agent}` in graph order, which
is what the SDK's function returns then (tests/unit/test_fast_path_internals.py compares
both); with a repeated name it runs as it is.
"""

from __future__ import annotations

from typing import Any

from agents import Agent

from chatkit_app.fast_paths.internals import IdentityMap, agent_graph, replace_agent_identity_map


def _unless_names_repeat(sdk: IdentityMap) -> IdentityMap:
    def identity_map(initial_agent: Agent[Any]) -> dict[str, Agent[Any]]:
        graph = agent_graph(initial_agent)
        by_name = {agent.name: agent for agent in graph}
        if len(by_name) == len(graph):
            return by_name
        return sdk(initial_agent)

    return identity_map


def name_agents_directly() -> None:
    """From now on (process-wide) the identity map skips the signatures when no name repeats."""
    replace_agent_identity_map(_unless_names_repeat)

"""The MCP SDK's own client, connected in memory to flowsite's server (trades/assistant.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from mcp import Client
from mcp.types import CallToolResult

from trades import assistant

T = TypeVar("T")


def in_memory(scenario: Callable[[Client], Awaitable[T]]) -> T:
    """Run ``scenario`` with a client connected to the server in this process. async_to_sync: the
    tools' reads (sync_to_async) then run in this thread, inside the test's transaction."""

    async def connected() -> T:
        async with Client(assistant.server) as client:
            return await scenario(client)

    return async_to_sync(connected)()


def call(tool: str, **arguments: Any) -> CallToolResult:
    return in_memory(lambda client: client.call_tool(tool, arguments))


def answer(tool: str, **arguments: Any) -> dict[str, Any]:
    result = call(tool, **arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content

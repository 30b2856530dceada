"""A real MCP client for tests/mcp.rs: the official Python SDK over Streamable HTTP.

Reads a plan as JSON on stdin, {"url": ..., "headers": {...}, "calls": [{"tool": ..., "arguments": {...}}]},
connects, initializes, lists the tools, makes each call in turn and prints one JSON document:
{"server": ..., "protocol_version": ..., "tools": [...], "calls": [{"tool", "is_error", "structured", "text"}]}.
"""

import json
import sys

import anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def run(plan):
    async with create_mcp_http_client(headers=plan.get("headers") or {}) as http:
        async with streamable_http_client(plan["url"], http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                initialized = await session.initialize()
                listed = await session.list_tools()
                calls = []
                for call in plan.get("calls", []):
                    result = await session.call_tool(call["tool"], call.get("arguments") or {})
                    calls.append(
                        {
                            "tool": call["tool"],
                            "is_error": bool(result.is_error),
                            "structured": result.structured_content,
                            "text": "".join(
                                block.text for block in result.content if getattr(block, "type", "") == "text"
                            ),
                        }
                    )
                return {
                    "server": initialized.server_info.name,
                    "protocol_version": initialized.protocol_version,
                    "instructions": initialized.instructions,
                    "tools": sorted(tool.name for tool in listed.tools),
                    "calls": calls,
                }


def main():
    plan = json.load(sys.stdin)
    print(json.dumps(anyio.run(run, plan)))


if __name__ == "__main__":
    main()

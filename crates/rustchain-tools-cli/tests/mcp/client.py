"""Drives `rustchain-tools mcp` with the official Python MCP SDK (`mcp` on PyPI).

Run by tests/mcp_python.rs: `python client.py SCENARIO TRANSPORT TARGET...`,
where TRANSPORT is `stdio` (TARGET: the server command and its arguments) or
`http` (TARGET: the endpoint URL, then optionally a bearer token). Each
scenario asserts what it expects and prints `ok SCENARIO` at the end; a
failed assertion exits non-zero with its message.
"""

import asyncio
import os
import pathlib
import subprocess
import sys
import time
from contextlib import asynccontextmanager

import anyio
import mcp_types as types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


@asynccontextmanager
async def session(transport, target, message_handler=None):
    if transport == "stdio":
        params = StdioServerParameters(command=target[0], args=target[1:], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, message_handler=message_handler) as s:
                await s.initialize()
                yield s
    else:
        import httpx2

        headers = {"Authorization": f"Bearer {target[1]}"} if len(target) > 1 else {}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with streamable_http_client(target[0], http_client=http) as (read, write):
                async with ClientSession(read, write, message_handler=message_handler) as s:
                    await s.initialize()
                    yield s


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


async def list_all(s):
    """Every page of tools/list, and how many pages there were."""
    tools, cursor, pages = [], None, 0
    while True:
        page = await s.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
        pages += 1
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools, pages


async def basics(transport, target):
    """Initialize, paginated list, a call, a validation error, a denial, protocol errors."""
    async with session(transport, target) as s:
        assert s.server_info.name == "rustchain-tools", s.server_info
        assert s.server_capabilities.tools.list_changed, s.server_capabilities
        tools, pages = await list_all(s)
        names = [t.name for t in tools]
        assert pages >= 3, f"{pages} pages for {len(names)} tools"
        assert len(names) == len(set(names)), names
        for expected in ("text.word_count", "fs_read", "fs_write", "cmd_run"):
            assert expected in names, names
        by_name = {t.name: t for t in tools}
        count = by_name["text.word_count"]
        assert count.input_schema["type"] == "object", count.input_schema
        assert count.output_schema["type"] == "object", count.output_schema
        assert count.annotations.read_only_hint is True, count.annotations
        assert by_name["fs_write"].annotations.read_only_hint is False
        digest = count.meta["io.rustchain/definitionDigest"]
        assert digest.startswith("sha256:") and len(digest) == 71, digest
        assert count.meta["io.rustchain/version"] == "1.0.0", count.meta

        result = await s.call_tool("text.word_count", {"text": "to be or not to be"})
        assert not result.is_error, result
        assert result.structured_content["words"] == 6, result

        invalid = await s.call_tool("text.word_count", {"text": 5, "extra": True})
        assert invalid.is_error, invalid
        message = text_of(invalid)
        assert "at /text" in message and "at /extra" in message, message
        assert invalid.meta["io.rustchain/error"]["error"] == "invalid_arguments", invalid.meta

        denied = await s.call_tool("fs_write", {"path": "x.txt", "content": "hi"})
        assert denied.is_error, denied
        assert "denied" in text_of(denied), text_of(denied)
        assert "read-only" in text_of(denied), text_of(denied)

        read = await s.call_tool("fs_read", {"path": "hello.txt"})
        assert not read.is_error, text_of(read)
        assert "hello from the root" in text_of(read), text_of(read)
        outside = await s.call_tool("fs_read", {"path": "../../etc/passwd"})
        assert outside.is_error, outside

        try:
            await s.call_tool("no.such_tool", {})
            raise AssertionError("an unknown tool must be a protocol error")
        except MCPError as e:
            assert e.code == -32602 and "unknown tool" in e.error.message, e.error
        hidden = os.environ.get("HIDDEN_TOOL")
        if hidden:
            assert hidden not in names, names
            try:
                await s.call_tool(hidden, {})
                raise AssertionError("a hidden tool must not be callable")
            except MCPError as e:
                assert "unknown tool" in e.error.message, e.error
                assert "did you mean" not in e.error.message, e.error
        try:
            await s.list_tools(params=types.PaginatedRequestParams(cursor="not-a-cursor"))
            raise AssertionError("a bad cursor must be refused")
        except MCPError as e:
            assert e.code == -32602, e.error


async def discovery(transport, target):
    """Search mode: find_tools, then a call of what it found."""
    async with session(transport, target) as s:
        tools, _ = await list_all(s)
        assert sorted(t.name for t in tools) == ["call_tool", "find_tools"], tools
        found = await s.call_tool("find_tools", {"query": "count the words in a text", "limit": 3})
        assert not found.is_error, text_of(found)
        hits = found.structured_content["tools"]
        assert hits and hits[0]["name"] == "text.word_count", hits
        assert hits[0]["inputSchema"]["type"] == "object", hits[0]
        assert hits[0]["definitionDigest"].startswith("sha256:"), hits[0]
        # Only what the principal may call: writing is not granted.
        found = await s.call_tool("find_tools", {"query": "write a file", "limit": 10})
        names = [h["name"] for h in found.structured_content["tools"]]
        assert "fs_write" not in names and "fs_delete" not in names, names
        # Imported definitions without an implementation are never offered.
        found = await s.call_tool("find_tools", {"query": "weather forecast for a city", "limit": 10})
        names = [h["name"] for h in found.structured_content["tools"]]
        assert "get_weather" not in names, names

        called = await s.call_tool("call_tool", {"name": hits[0]["name"], "arguments": {"text": "a b"}})
        assert not called.is_error, text_of(called)
        assert called.structured_content["words"] == 2, called
        direct = await s.call_tool("text.word_count", {"text": "a b c"})
        assert direct.structured_content["words"] == 3, direct
        bad = await s.call_tool("call_tool", {"name": "text.word_count", "arguments": {"text": 1}})
        assert bad.is_error and "at /text" in text_of(bad), text_of(bad)
        missing = await s.call_tool("call_tool", {"name": "get_weather", "arguments": {}})
        assert missing.is_error, missing
        bad_query = await s.call_tool("find_tools", {"query": 7})
        assert bad_query.is_error and "at /query" in text_of(bad_query), text_of(bad_query)


async def cancel(transport, target):
    """A long call cancelled by the client stops; the session goes on."""
    marker = pathlib.Path(os.environ["MARKER_DIR"])
    async with session(transport, target) as s:
        started = time.monotonic()
        try:
            await s.call_tool(
                "cmd_run",
                {"program": "sleep", "args": ["30"]},
                read_timeout_seconds=1.5,
            )
            raise AssertionError("the call should have been cancelled")
        except (MCPError, TimeoutError) as e:
            pass
        assert time.monotonic() - started < 10
        # The session still serves.
        result = await s.call_tool("text.sha256", {"text": "a"})
        assert not result.is_error, result
        (marker / "cancelled").write_text("sent\n")


async def list_changed(transport, target):
    """Editing the exposed tools in rustchain.toml tells the session."""
    config = pathlib.Path(os.environ["CONFIG_FILE"])
    changed = anyio.Event()

    async def on_message(message):
        if isinstance(message, types.ServerNotification) and message.method == "notifications/tools/list_changed":
            changed.set()
        elif getattr(message, "method", None) == "notifications/tools/list_changed":
            changed.set()

    async with session(transport, target, message_handler=on_message) as s:
        before = [t.name for t in (await list_all(s))[0]]
        assert "text.sha256" in before, before
        config.write_text(config.read_text().replace('hide = []', 'hide = ["text.*"]'))
        with anyio.fail_after(15):
            await changed.wait()
        after = [t.name for t in (await list_all(s))[0]]
        assert "text.sha256" not in after and "fs_read" in after, after


async def plugins(transport, target):
    """A plugin added while serving is listed and callable; removed, it is gone."""
    command = [os.environ["BIN"], "plugin", "--config", os.environ["CONFIG_FILE"]]
    changed = anyio.Event()

    async def on_message(message):
        if getattr(message, "method", None) == "notifications/tools/list_changed" or (
            isinstance(message, types.ServerNotification)
            and getattr(message.root, "method", None) == "notifications/tools/list_changed"
        ):
            changed.set()

    async with session(transport, target, message_handler=on_message) as s:
        before = [t.name for t in (await list_all(s))[0]]
        assert "example.json_upper" not in before, before
        subprocess.run(command + ["add", os.environ["PLUGIN_SOURCE"]], check=True)
        with anyio.fail_after(15):
            await changed.wait()
        changed = anyio.Event()
        tools = {t.name: t for t in (await list_all(s))[0]}
        plugin = tools["example.json_upper"]
        assert plugin.input_schema["required"] == ["document"], plugin.input_schema
        assert plugin.annotations.read_only_hint is True, plugin.annotations
        result = await s.call_tool("example.json_upper", {"document": {"name": "ada", "n": [1, "x"]}})
        assert not result.is_error, result
        assert result.structured_content == {"document": {"name": "ADA", "n": [1, "X"]}}, result
        invalid = await s.call_tool("example.json_upper", {"doc": 1})
        assert invalid.is_error and "document" in text_of(invalid), text_of(invalid)

        subprocess.run(command + ["remove", "example.json_upper"], check=True)
        with anyio.fail_after(15):
            await changed.wait()
        after = [t.name for t in (await list_all(s))[0]]
        assert "example.json_upper" not in after and "text.sha256" in after, after


async def timing(transport, target):
    """Calls one after another: prints the mean and median client time per call."""
    n = int(os.environ.get("CALLS", "2000"))
    async with session(transport, target) as s:
        for _ in range(50):
            await s.call_tool("text.sha256", {"text": "a"})
        times = []
        for _ in range(n):
            t = time.perf_counter()
            result = await s.call_tool("text.sha256", {"text": "a"})
            times.append(time.perf_counter() - t)
            assert not result.is_error
        times.sort()
        print(f"calls {n} median_us {times[n // 2] * 1e6:.1f} p99_us {times[int(n * 0.99)] * 1e6:.1f} "
              f"mean_us {sum(times) / n * 1e6:.1f}")


SCENARIOS = {f.__name__: f for f in (basics, discovery, cancel, list_changed, plugins, timing)}

if __name__ == "__main__":
    scenario, transport, target = sys.argv[1], sys.argv[2], sys.argv[3:]
    asyncio.run(SCENARIOS[scenario](transport, target))
    print(f"ok {scenario}")

"""``manage.py mcp``: flowsite's MCP server for AI assistants (trades/assistant.py).

manage.py mcp                                      stdio: what an MCP client (Claude Desktop, …) launches
manage.py mcp --http [--host 127.0.0.1] [--port 8766]
                                                   streamable HTTP at /mcp, behind API_TOKEN as the API
"""

from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from trades import assistant


class Command(BaseCommand):
    help = "Serve flowsite's MCP server: over stdio (the default), or streamable HTTP at /mcp with --http."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--http", action="store_true", help="Serve streamable HTTP at /mcp instead of stdio.")
        parser.add_argument("--host", default="127.0.0.1", help="With --http: the address to listen on.")
        parser.add_argument("--port", type=int, default=8766, help="With --http: the port to listen on.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["http"]:
            # stdout carries the protocol: everything else (logging) goes to stderr.
            assistant.server.run("stdio")
            return
        if not settings.API_TOKEN:
            self.stderr.write("API_TOKEN is not set: the MCP endpoint is open to whoever reaches it.")
        app = assistant.http_app(options["host"])
        # log_config=None: uvicorn logs through the project's logging (stderr), as every command does.
        uvicorn.run(app, host=options["host"], port=options["port"], log_config=None)

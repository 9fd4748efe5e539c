"""A proxy.py plugin for the egress tests: writes one JSON line per request the proxy takes.

Loaded into the ``proxy`` child process (``--plugins tests.signet.security.proxy_recorder.
RecordRequests``); the file is named by ``SIGNET_TEST_PROXY_RECORD``. A line is written
before the proxy connects anywhere, so a request it refuses (bad credentials) shows too.
"""

from __future__ import annotations

import json
import os

from proxy.http.parser import HttpParser
from proxy.http.proxy import HttpProxyBasePlugin


class RecordRequests(HttpProxyBasePlugin):
    def before_upstream_connection(self, request: HttpParser) -> HttpParser | None:
        line = {
            "method": (request.method or b"").decode(),
            "host": (request.host or b"").decode(),
            "port": request.port,
            "authorized": request.has_header(b"proxy-authorization"),
        }
        with open(os.environ["SIGNET_TEST_PROXY_RECORD"], "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
        return request

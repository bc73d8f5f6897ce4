#!/usr/bin/env python3
"""Docker HEALTHCHECK: the receiver answers GET /api/health on the port and scheme it was configured with."""

import json
import ssl
import sys
import urllib.request

try:
    with open("/data/options.json", encoding="utf-8") as file:
        options = json.load(file)
except (OSError, ValueError):
    options = {}
scheme = "https" if options.get("ssl") else "http"
port = int(options.get("port", 8010))
# The certificate names the public host, not 127.0.0.1; this only asks "is it answering?".
context = ssl._create_unverified_context()  # noqa: S323
try:
    with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/api/health", timeout=4, context=context):  # noqa: S310
        pass
except OSError as err:
    print(f"receiver not healthy: {err}", file=sys.stderr)
    sys.exit(1)

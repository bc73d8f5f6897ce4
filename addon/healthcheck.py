#!/usr/bin/env python3
"""Docker HEALTHCHECK: the receiver answers GET /api/health where the gateway reaches it.

That is container port 8010, the one config.yaml's `ports` maps and run.sh listens on
(the host port is set in the add-on's Network panel). It is fixed on purpose: a check
that followed a configurable listener stayed green while the mapping pointed elsewhere.
"""

import json
import ssl
import sys
import urllib.request

PORT = 8010

try:
    with open("/data/options.json", encoding="utf-8") as file:
        options = json.load(file)
except (OSError, ValueError):
    options = {}
scheme = "https" if options.get("ssl") else "http"
# The certificate names the public host, not 127.0.0.1; this only asks "is it answering?".
context = ssl._create_unverified_context()  # noqa: S323
try:
    with urllib.request.urlopen(f"{scheme}://127.0.0.1:{PORT}/api/health", timeout=4, context=context):  # noqa: S310
        pass
except OSError as err:
    print(f"receiver not healthy: {err}", file=sys.stderr)
    sys.exit(1)

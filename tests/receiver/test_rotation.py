"""Several secrets at once, so the shared secret can be rotated without downtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import OLD_SECRET, SECRET, full_sync, make_options, returned, running

pytestmark = pytest.mark.usefixtures("backend")


async def test_secret_rotation(socket_enabled, tmp_path: Path) -> None:
    # Step 1: the gateway uses the old secret; the receiver knows only that one.
    async with running(tmp_path, make_options(secrets=[OLD_SECRET])) as h:
        assert (await h.post(full_sync(), secret=OLD_SECRET)).status == 200
        assert (await h.post(returned(), secret=SECRET)).status == 403
    # Step 2: the new secret is added; both are accepted while gateways switch over.
    async with running(tmp_path, make_options(secrets=[SECRET, OLD_SECRET])) as h:
        assert (await h.post(full_sync(serial="PS002"), secret=OLD_SECRET)).status == 200
        assert (await h.post(returned(bank="PB-2"), secret=SECRET)).status == 200
    # Step 3: the old secret is removed; requests signed with it are refused.
    async with running(tmp_path, make_options(secrets=[SECRET])) as h:
        before = h.snapshot()
        refused = await h.post(returned(bank="PB-3"), secret=OLD_SECRET)
        assert (refused.status, refused.json["error"]) == (403, "bad_signature")
        assert h.snapshot() == before
        assert (await h.post(returned(bank="PB-4"), secret=SECRET)).status == 200
        assert h.count("sync_log") == 4

"""The gateway's request signature: Base64(HMAC-SHA256(secret, raw body + timestamp)).

The message is the exact bytes received followed by the ASCII ``X-Timestamp`` value,
which is what the Java gateway signs (``payload + timestamp`` as a UTF-8 string). The
header is decoded strictly: canonical standard Base64 of exactly 32 bytes, nothing else.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
import hashlib
import hmac

DIGEST_SIZE = hashlib.sha256().digest_size
# Base64 of 32 bytes is 44 characters; bounding the header keeps decoding cheap.
_B64_LEN = 44


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """Return the ``X-Signature`` value the gateway sends for ``body`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), body + timestamp.encode("ascii"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def decode_signature(header: str) -> bytes | None:
    """Decode an ``X-Signature`` header strictly, or return None if it is not canonical."""
    if len(header) != _B64_LEN or not header.isascii():
        return None
    try:
        raw = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        return None
    # Non-zero padding bits decode fine but make a second spelling of the same signature,
    # which would slip past replay detection keyed on the header.
    if len(raw) != DIGEST_SIZE or base64.b64encode(raw).decode("ascii") != header:
        return None
    return raw


def verify(secrets: Sequence[str], body: bytes, timestamp: str, signature: bytes) -> int | None:
    """Return the index of the secret that signed the request, or None.

    Every configured secret is tried (no early exit) so the time taken does not reveal
    which one matched; each comparison is constant time.
    """
    message = body + timestamp.encode("ascii")
    match: int | None = None
    for index, secret in enumerate(secrets):
        expected = hmac.new(secret.encode(), message, hashlib.sha256).digest()
        if hmac.compare_digest(expected, signature) and match is None:
            match = index
    return match

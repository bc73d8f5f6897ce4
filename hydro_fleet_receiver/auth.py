"""Admin login and JWT tokens (HS256 with PyJWT), as the gateway expects them.

Access tokens are short-lived; refresh tokens live longer and are single use: each
refresh answers a new pair and retires the presented refresh token (its ``jti`` is
tracked in the database, so rotation survives a restart). The signing key is random,
kept in the data directory, and is not the gateway's shared HMAC secret. Replicas sharing
a PostgreSQL database use the key the first of them stored there.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import hmac
import os
from pathlib import Path
import secrets
import time
from typing import Any

import jwt

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
_ISSUER = "hydro-fleet-receiver"


class TokenError(Exception):
    """A token that is missing, malformed, expired, of the wrong type or for another user."""


def load_or_create_key(path: Path) -> bytes:
    """Return the JWT signing key, creating it (mode 0600) on first start."""
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return key


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    refresh_jti: str
    refresh_expires: float

    def as_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token, "token_type": "Bearer"}


class Authenticator:
    """Checks the admin credentials and issues/validates tokens for that one account."""

    def __init__(self, key: bytes, email: str, password: str, access_ttl: float, refresh_ttl: float) -> None:
        self._key = key
        self._email = email
        # Only digests are kept, so the comparison is constant time whatever the lengths.
        self._email_digest = _digest(email.casefold())
        self._password_digest = _digest(password)
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl

    @property
    def key(self) -> bytes:
        return self._key

    def replace_key(self, key: bytes) -> None:
        """Sign and validate with ``key`` from now on (replicas share one, see ``AsyncStore.shared_key``)."""
        self._key = key

    def check_credentials(self, email: str, password: str) -> bool:
        email_ok = hmac.compare_digest(_digest(email.casefold()), self._email_digest)
        password_ok = hmac.compare_digest(_digest(password), self._password_digest)
        return email_ok and password_ok

    def issue(self, now: float | None = None) -> IssuedTokens:
        now = time.time() if now is None else now
        refresh_jti = secrets.token_urlsafe(16)
        refresh_expires = now + self._refresh_ttl
        access = self._encode(ACCESS, now, now + self._access_ttl, secrets.token_urlsafe(12))
        refresh = self._encode(REFRESH, now, refresh_expires, refresh_jti)
        return IssuedTokens(access, refresh, refresh_jti, refresh_expires)

    def _encode(self, kind: str, now: float, expires: float, jti: str) -> str:
        claims = {"sub": self._email, "typ": kind, "iat": int(now), "exp": int(expires), "jti": jti, "iss": _ISSUER}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def validate(self, token: str, kind: str) -> dict[str, Any]:
        """Return the claims of a valid token of ``kind`` or raise ``TokenError``."""
        if not token or len(token) > 4096:
            raise TokenError("missing or oversized token")
        if not token.isascii():
            # A JWT is ASCII; a header's other bytes arrive as surrogates PyJWT cannot encode.
            raise TokenError("token is not ASCII")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=_ISSUER,
                options={"require": ["exp", "iat", "sub", "typ", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.InvalidTokenError:
            raise TokenError("invalid token") from None
        if claims.get("typ") != kind:
            raise TokenError(f"not an {kind} token")
        if not hmac.compare_digest(_digest(str(claims.get("sub", "")).casefold()), self._email_digest):
            # The admin account was changed in the options: old tokens stop working.
            raise TokenError("token for another account")
        return claims

"""What the handlers and middlewares share: options, store, auth, limiters, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
import itertools
import secrets
import time

from aiohttp import web

from .auth import ACCESS, Authenticator
from .metrics import Metrics
from .options import Network, Options
from .publisher import Publisher
from .ratelimit import RateLimiter
from .storage import AsyncStore

LOGIN_PATH = "/api/admin/login"
REFRESH_PATH = "/api/admin/refresh"
DATA_PATH = "/api/internal/stations/data"
LORAWAN_PATH = "/api/lorawan/chirpstack"
_TOKEN_CACHE_SIZE = 64


class ReplayCache:
    """Signatures accepted within the timestamp window, so a replay is refused without a DB read.

    The database's UNIQUE constraint on the signature is the authority (it also catches two
    copies racing each other); this cache only saves the lookup. Entries older than the
    window can go: their timestamp alone gets them refused.
    """

    def __init__(self, window: int) -> None:
        self._window = window
        self._seen: dict[str, int] = {}
        self._next_prune = 0.0

    def load(self, signatures: dict[str, int]) -> None:
        self._seen.update(signatures)

    def seen(self, signature: str) -> bool:
        return signature in self._seen

    def add(self, signature: str, header_ts: int) -> None:
        self._seen[signature] = header_ts
        now = time.time()
        if now >= self._next_prune:
            self._next_prune = now + 30
            oldest = now - self._window - 1
            self._seen = {s: ts for s, ts in self._seen.items() if ts >= oldest}

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(slots=True)
class Context:
    options: Options
    store: AsyncStore
    auth: Authenticator
    metrics: Metrics
    sync_limiter: RateLimiter
    login_limiter: RateLimiter
    replays: ReplayCache
    publisher: Publisher | None = None
    allowed: tuple[Network, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    # token -> exp of recently validated access tokens: the gateway sends the same token
    # for an hour, and decoding it each time is a measurable share of a request.
    _tokens: dict[str, float] = field(default_factory=dict)
    # Request ids: a random prefix per application plus a counter, unique across restarts
    # and forks (the sync log requires it) without a urandom call per request.
    _id_prefix: str = field(default_factory=lambda: secrets.token_hex(8))
    _id_counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_request_id(self) -> str:
        return f"{self._id_prefix}{next(self._id_counter):016x}"

    def validate_access(self, token: str) -> None:
        """Raise ``TokenError`` unless ``token`` is a valid access token."""
        exp = self._tokens.get(token)
        if exp is not None and exp > time.time():
            return
        claims = self.auth.validate(token, ACCESS)
        if len(self._tokens) >= _TOKEN_CACHE_SIZE:
            self._tokens.clear()
        self._tokens[token] = float(claims["exp"])

    def forget_tokens(self) -> None:
        self._tokens.clear()


CTX = web.AppKey("hydro_fleet_receiver", Context)

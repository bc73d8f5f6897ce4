"""The aiohttp application: an app factory, the verification middlewares, three handlers.

Resources (database, MQTT publisher, liveness sweep) live in ``cleanup_ctx`` so they are
opened when the server starts and closed when it stops, in reverse order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import logging
from pathlib import Path
import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .auth import REFRESH, Authenticator, TokenError, load_or_create_key
from .context import CTX, DATA_PATH, LOGIN_PATH, LORAWAN_PATH, REFRESH_PATH, Context, ReplayCache
from .lorawan import UPLINK_EVENT, parse_uplink
from .metrics import Metrics
from .options import Options
from .publisher import MqttSettings, Publisher
from .ratelimit import RateLimiter
from .responses import (
    BODY,
    BODY_SHA256,
    CLIENT_IP,
    HEADER_TS,
    IDEMPOTENCY_KEY,
    REQUEST_ID,
    SIGNATURE,
    STARTED,
    error_response,
    stored_answer,
)
from .schema import FullSync, PayloadError, parse_payload
from .storage import AsyncStore, IdempotencyKeyTakenError, ReplayError, StorageUnavailableError, SyncMeta
from .verification import LORAWAN_MIDDLEWARES, ROOT_MIDDLEWARES, SYNC_MIDDLEWARES

_LOGGER = logging.getLogger(__name__)
DB_NAME = "receiver.db"
KEY_NAME = "jwt.key"


class _Credentials(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class _Refresh(BaseModel):
    model_config = ConfigDict(extra="ignore")
    refresh_token: str = Field(min_length=1, max_length=4096)


def _field_errors(err: Exception) -> list[dict[str, str]]:
    if not isinstance(err, ValidationError):
        return [{"field": "body", "message": str(err)}]
    return [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "body",
            "message": "body is not valid JSON" if e["type"] == "json_invalid" else e["msg"],
        }
        for e in err.errors(include_url=False, include_input=False)
    ]


def _login_limited(request: web.Request, ctx: Context) -> web.Response | None:
    wait = ctx.login_limiter.hit(request[CLIENT_IP])
    if wait:
        return error_response(
            request, 429, "rate_limited", "too many login attempts", headers={"Retry-After": str(wait)}
        )
    return None


def _body_as[M: BaseModel](request: web.Request, model: type[M], needs: str) -> M | web.Response:
    """The request body as ``model``, or the 400 answer naming each bad field."""
    try:
        return model.model_validate_json(request[BODY])
    except ValueError as err:
        return error_response(request, 400, "invalid_payload", needs, extra={"errors": _field_errors(err)})


async def login(request: web.Request) -> web.Response:
    """POST /api/admin/login {"email", "password"} -> {"access_token", "refresh_token"}."""
    ctx = request.app[CTX]
    if (limited := _login_limited(request, ctx)) is not None:
        return limited
    creds = _body_as(request, _Credentials, "login needs email and password")
    if isinstance(creds, web.Response):
        return creds
    if not ctx.auth.check_credentials(creds.email, creds.password):
        return error_response(request, 401, "invalid_credentials", "wrong email or password")
    tokens = ctx.auth.issue()
    await ctx.store.add_refresh(tokens.refresh_jti, tokens.refresh_expires)
    _LOGGER.info("admin login from %s", request[CLIENT_IP])
    return web.json_response(tokens.as_json())


async def refresh(request: web.Request) -> web.Response:
    """POST /api/admin/refresh {"refresh_token"} -> a new pair; the old refresh token is spent."""
    ctx = request.app[CTX]
    if (limited := _login_limited(request, ctx)) is not None:
        return limited
    body = _body_as(request, _Refresh, "refresh needs refresh_token")
    if isinstance(body, web.Response):
        return body
    try:
        claims = ctx.auth.validate(body.refresh_token, REFRESH)
    except TokenError as err:
        return error_response(request, 401, "unauthorized", str(err))
    if not await ctx.store.use_refresh(str(claims["jti"])):
        return error_response(request, 401, "unauthorized", "refresh token already used or unknown")
    tokens = ctx.auth.issue()
    await ctx.store.add_refresh(tokens.refresh_jti, tokens.refresh_expires)
    return web.json_response(tokens.as_json())


async def station_data(request: web.Request) -> web.Response:
    """POST /api/internal/stations/data: validate, commit in one transaction, then answer."""
    ctx = request.app[CTX]
    try:
        payload = parse_payload(request[BODY])
    except PayloadError as err:
        return error_response(
            request, 400, "invalid_payload", str(err)[:500], reason="invalid", extra={"errors": err.errors}
        )
    meta = SyncMeta(
        request_id=request[REQUEST_ID],
        signature=request[SIGNATURE],
        header_ts=request[HEADER_TS],
        body_sha256=request[BODY_SHA256],
        idempotency_key=request[IDEMPOTENCY_KEY],
        received=time.time(),
    )
    try:
        outcome = await ctx.store.apply(payload, meta)
    except ReplayError:
        return error_response(request, 409, "replay", "this signature was already accepted", reason="replay")
    except IdempotencyKeyTakenError:
        stored = await ctx.store.answer_for_key(meta.idempotency_key or "")
        if stored is None:  # cannot happen: the key's row committed before our transaction
            raise
        return stored_answer(request, stored.body_sha256, stored.response)
    # Committed: from here on the request is durable, whatever happens to this process.
    ctx.replays.add(meta.signature, meta.header_ts)
    if outcome.outbox_rows and ctx.publisher is not None:
        ctx.publisher.wake()
    ctx.metrics.accept(time.perf_counter() - request[STARTED])
    kind = "full sync" if isinstance(payload, FullSync) else "return"
    _LOGGER.debug("%s of station %s stored [request %s]", kind, payload.device.serial_number, meta.request_id)
    return web.Response(body=outcome.body, content_type="application/json", charset="utf-8")


async def chirpstack_event(request: web.Request) -> web.Response:
    """POST /api/lorawan/chirpstack?event=<type>: commit an uplink, acknowledge other events.

    ChirpStack posts every event type to this one URL; only ``up`` carries readings. The
    others get 204 so ChirpStack does not log them as failed deliveries.
    """
    ctx = request.app[CTX]
    event = request.query.get("event")
    if not event:
        return error_response(
            request,
            400,
            "invalid_payload",
            "the 'event' query parameter is missing",
            extra={"errors": [{"field": "event", "message": "query parameter is required"}]},
        )
    if event != UPLINK_EVENT:
        return web.Response(status=204)
    try:
        uplink = parse_uplink(request[BODY])
    except ValidationError as err:
        errors = _field_errors(err)
        return error_response(
            request, 400, "invalid_payload", f"invalid uplink ({errors[0]['field']})", extra={"errors": errors}
        )
    node_id = await ctx.store.apply_uplink(uplink, time.time())
    # Committed: the node's MQTT messages are outbox rows now and outlive a broker outage.
    if ctx.publisher is not None:
        ctx.publisher.wake()
    _LOGGER.debug("uplink of %s stored [request %s]", node_id, request[REQUEST_ID])
    return web.json_response(
        {"status": "ok", "request_id": request[REQUEST_ID], "node_id": node_id, "dev_eui": uplink.dev_eui}
    )


async def health(request: web.Request) -> web.Response:
    """GET /api/health: liveness for the Supervisor watchdog and the tests."""
    ctx = request.app[CTX]
    publisher = ctx.publisher
    return web.json_response({"status": "ok", "mqtt_connected": bool(publisher and publisher.connected)})


async def _sweep_stale(ctx: Context) -> None:
    """Now and then: mark stations not heard from for ``station_timeout`` offline, and
    drop sync log rows past their retention."""
    interval = max(1.0, min(60.0, ctx.options.station_timeout / 4, ctx.options.lorawan_timeout / 4))
    while True:
        await asyncio.sleep(interval)
        try:
            stale = await ctx.store.mark_stale(ctx.options.station_timeout, ctx.options.lorawan_timeout)
            await ctx.store.prune()
        except StorageUnavailableError as err:
            _LOGGER.warning("liveness sweep skipped (%s); trying again in %.0f s", err, interval)
            continue
        except Exception:
            _LOGGER.exception("liveness sweep failed; trying again in %.0f s", interval)
            continue
        if stale:
            _LOGGER.info("no data within the timeout from %s: marked offline", ", ".join(stale))
            if ctx.publisher is not None:
                ctx.publisher.wake()


def create_app(
    options: Options,
    data_dir: Path,
    mqtt: MqttSettings | None,
    *,
    metrics_interval: float = 10.0,
    database: str | None = None,
) -> web.Application:
    """Build the receiver's application; nothing is opened until the server starts.

    ``database``: a ``postgresql://`` URL (replicas may share it), else the
    ``database_url`` option, else SQLite in ``data_dir``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    store = AsyncStore(database or options.database_url or data_dir / DB_NAME, options.topic_prefix)
    metrics = Metrics()
    auth = Authenticator(
        load_or_create_key(data_dir / KEY_NAME),
        options.admin_email,
        options.admin_password,
        access_ttl=options.access_token_minutes * 60,
        refresh_ttl=options.refresh_token_days * 86400,
    )
    ctx = Context(
        options=options,
        store=store,
        auth=auth,
        metrics=metrics,
        sync_limiter=RateLimiter(options.rate_limit_per_minute),
        login_limiter=RateLimiter(options.login_rate_limit_per_minute),
        replays=ReplayCache(options.timestamp_window),
        allowed=options.allowed_networks,
        trusted_proxies=options.trusted_proxy_networks,
    )
    if mqtt is not None:
        ctx.publisher = Publisher(
            store, metrics, mqtt, options.topic_prefix, options.node_id, metrics_interval=metrics_interval
        )

    # client_max_size bounds what request.read() accepts, chunked bodies included.
    app = web.Application(middlewares=ROOT_MIDDLEWARES, client_max_size=options.max_body_bytes)
    app[CTX] = ctx
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post(REFRESH_PATH, refresh)
    app.router.add_get("/api/health", health)
    internal = web.Application(middlewares=SYNC_MIDDLEWARES, client_max_size=options.max_body_bytes)
    # The context on each sub-application too: ``request.app[CTX]`` is a dict lookup,
    # ``request.config_dict`` builds a chain of the applications on every access.
    internal[CTX] = ctx
    internal.router.add_post(DATA_PATH.removeprefix("/api/internal"), station_data)
    app.add_subapp("/api/internal", internal)
    # Its own sub-application: a header token instead of JWT + HMAC (ChirpStack can do
    # neither), the same root protections and rate limit.
    lorawan = web.Application(middlewares=LORAWAN_MIDDLEWARES, client_max_size=options.max_body_bytes)
    lorawan[CTX] = ctx
    lorawan.router.add_post(LORAWAN_PATH.removeprefix("/api/lorawan"), chirpstack_event)
    app.add_subapp("/api/lorawan", lorawan)
    app.cleanup_ctx.append(_resources)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CTX]
    await ctx.store.open()
    if ctx.store.shared:
        # A token one replica issued must be valid at every other one.
        ctx.auth.replace_key(await ctx.store.shared_key(ctx.auth.key))
    ctx.replays.load(await ctx.store.recent_signatures(int(time.time()) - ctx.options.timestamp_window - 1))
    backlog = await ctx.store.outbox_backlog()
    if backlog:
        _LOGGER.info("%d outbox message(s) from before the restart will be published", backlog)
    tasks = [asyncio.create_task(_sweep_stale(ctx), name="hf-receiver-sweep")]
    if ctx.publisher is not None:
        tasks.append(asyncio.create_task(ctx.publisher.run(), name="hf-receiver-publisher"))
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await ctx.store.close()

"""The verification chain, in the issue's order: one aiohttp middleware per application,
each running its checks one after another.

Root application (every route):   errors -> allowlist (403) -> body size (413) -> content type (415)
Internal sub-application (sync):  bearer (401) -> timestamp (403) -> signature (403)
                                  -> idempotency (stored answer / 422) -> replay (409) -> rate limit (429)
The handler then validates the JSON (400) and commits. Each rejection is one JSON body
``{"error", "detail", "request_id"}``, one log line without secrets, and a metrics count;
nothing is written to the database before the handler's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import hashlib
import ipaddress
import logging
import re
import time

from aiohttp import web

from .auth import TokenError
from .context import CTX, Context
from .lorawan import token_matches
from .responses import (
    AUTHENTICATED,
    BODY,
    BODY_SHA256,
    CLIENT_IP,
    HEADER_TS,
    IDEMPOTENCY_KEY,
    REQUEST_ID,
    SIGNATURE,
    STARTED,
    bearer_token,
    client_ip,
    error_response,
    stored_answer,
)
from .signing import decode_signature, verify
from .storage import StorageUnavailableError

_LOGGER = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
# Request keys (aiohttp has AppKey for apps; per-request values use plain string keys).


# --- the checks ----------------------------------------------------------------------------
#
# One middleware per application (root, sync, LoRaWAN) runs its checks in order as plain
# function calls: every aiohttp middleware layer costs a coroutine, a wrapper and a
# current-app switch per request, which for ten one-line checks was a measurable share
# of a request's CPU. The order and every answer are those of the table above.


@web.middleware
async def root_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route: a request id, then allowlist (403), body size (413), content type (415).

    HTTP errors raised further in become JSON and crashes a 500 with the request id.
    """
    ctx: Context = request.app[CTX]
    request_id = request[REQUEST_ID] = ctx.next_request_id()
    request[STARTED] = time.perf_counter()
    response: web.StreamResponse | None
    try:
        response = _allowlist(request, ctx)
        if response is None and request.method == "POST":
            response = _body_length(request, ctx)
            if response is None:
                # Read once here (aiohttp enforces client_max_size on chunked bodies too) and
                # keep the raw bytes: the signature is computed over exactly these.
                try:
                    request[BODY] = await request.read()
                except ConnectionError:
                    # The client hung up mid-body (a gateway timeout, a cut network): a
                    # client's matter, nothing was stored; the answer goes nowhere.
                    response = error_response(
                        request,
                        400,
                        "incomplete_body",
                        "the client closed the connection before the body ended",
                        reason="invalid",
                    )
                else:
                    response = _content_type(request)
        if response is None:
            response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 413:
            response = error_response(
                request, 413, "payload_too_large", "body is over the size limit", reason="too_large"
            )
        else:
            response = error_response(
                request,
                exc.status,
                exc.reason.lower().replace(" ", "_"),
                exc.reason,
                headers={k: v for k, v in exc.headers.items() if k == "Allow"},
            )
    except StorageUnavailableError:
        # The database is away (a PostgreSQL restart): nothing was stored, and a retry
        # after the outage will be; one line, no traceback.
        response = error_response(
            request,
            503,
            "unavailable",
            "the database is unavailable; the request was not stored, retry later",
            reason="error",
            headers={"Retry-After": "5"},
        )
    except Exception:
        # A bug or a storage failure (its transaction, if one began, was rolled back): the
        # traceback is logged; the client only gets the id to quote.
        _LOGGER.exception("request %s to %s failed; nothing of it was stored", request_id, request.path)
        response = error_response(
            request, 500, "internal_error", "the request was not stored; retry later", reason="error"
        )
    response.headers["X-Request-Id"] = request_id
    return response


def _content_type(request: web.Request) -> web.Response | None:
    if request.content_type == "application/json":
        return None
    return error_response(
        request, 415, "unsupported_media_type", "Content-Type must be application/json", reason="content_type"
    )


def _allowlist(request: web.Request, ctx: Context) -> web.Response | None:
    ip = client_ip(request, ctx)
    request[CLIENT_IP] = ip
    if ctx.allowed:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            address = None
        if address is None or not any(address in net for net in ctx.allowed):
            return error_response(request, 403, "forbidden", "client address is not allowed", reason="forbidden_ip")
    return None


def _body_length(request: web.Request, ctx: Context) -> web.Response | None:
    length = request.content_length
    if length is not None and length > ctx.options.max_body_bytes:
        return error_response(
            request,
            413,
            "payload_too_large",
            f"body of {length} bytes is over the {ctx.options.max_body_bytes} byte limit",
            reason="too_large",
        )
    return None


@web.middleware
async def sync_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The sync sub-application: bearer (401), timestamp (403), signature (403),
    idempotency (stored answer / 422), replay (409), rate limit (429), in this order."""
    ctx: Context = request.app[CTX]
    response = _bearer(request, ctx) or _timestamp(request, ctx) or _signature(request, ctx)
    if response is not None:
        return response
    key = request.headers.get("Idempotency-Key")
    request[IDEMPOTENCY_KEY] = key
    if key is not None:
        if not _IDEMPOTENCY_KEY.fullmatch(key):
            return error_response(
                request,
                400,
                "invalid_payload",
                "Idempotency-Key must be 1-128 printable ASCII",
                reason="invalid",
                extra={"errors": [{"field": "Idempotency-Key", "message": "1-128 printable ASCII characters"}]},
            )
        # A verified repeat of the key gets the first answer again, changing nothing. This
        # comes before replay detection so that resending the very same signed request with
        # its key is answered like the first time instead of 409.
        stored = await ctx.store.answer_for_key(key)
        if stored is not None:
            return stored_answer(request, stored.body_sha256, stored.response)
    response = _replay(request, ctx) or await _rate_limit(request, ctx)
    if response is not None:
        return response
    return await handler(request)


def _bearer(request: web.Request, ctx: Context) -> web.Response | None:
    request[AUTHENTICATED] = False
    token = bearer_token(request)
    if token is None:
        return error_response(
            request,
            401,
            "unauthorized",
            "missing bearer token",
            reason="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="hydro-fleet"'},
        )
    try:
        ctx.validate_access(token)
    except TokenError as err:
        return error_response(
            request,
            401,
            "unauthorized",
            str(err),
            reason="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="hydro-fleet", error="invalid_token"'},
        )
    request[AUTHENTICATED] = True
    return None


def _timestamp(request: web.Request, ctx: Context) -> web.Response | None:
    value = request.headers.get("X-Timestamp")
    if value is None:
        return error_response(request, 403, "timestamp", "X-Timestamp header is missing", reason="timestamp")
    if not _TIMESTAMP.fullmatch(value):
        return error_response(
            request, 403, "timestamp", "X-Timestamp must be unix seconds (digits only)", reason="timestamp"
        )
    # Whole seconds on both sides, so the figure in the message is the one compared.
    skew = int(value) - int(time.time())
    window = ctx.options.timestamp_window
    if abs(skew) > window:
        direction = "ahead of" if skew > 0 else "behind"
        return error_response(
            request,
            403,
            "timestamp",
            f"X-Timestamp is {abs(skew)} s {direction} the receiver's clock; the limit is {window} s ahead or behind",
            reason="timestamp",
        )
    request[HEADER_TS] = int(value)
    return None


def _signature(request: web.Request, ctx: Context) -> web.Response | None:
    header = request.headers.get("X-Signature")
    if header is None:
        return error_response(request, 403, "bad_signature", "X-Signature header is missing", reason="signature")
    raw = decode_signature(header)
    if raw is None:
        return error_response(
            request, 403, "bad_signature", "X-Signature is not Base64 of a 32-byte HMAC", reason="signature"
        )
    # No body outside POST (the method is refused with 405 afterwards).
    body = request.get(BODY, b"")
    index = verify(ctx.options.secrets, body, request.headers["X-Timestamp"], raw)
    if index is None:
        return error_response(
            request, 403, "bad_signature", "signature does not match the body and timestamp", reason="signature"
        )
    if index > 0:
        # Rotation in progress: tells the operator the gateway still uses an older secret.
        _LOGGER.debug("request %s signed with secret #%d", request[REQUEST_ID], index + 1)
    request[SIGNATURE] = header
    request[BODY_SHA256] = hashlib.sha256(body).hexdigest()
    return None


def _replay(request: web.Request, ctx: Context) -> web.Response | None:
    if ctx.replays.seen(request[SIGNATURE]):
        return error_response(request, 409, "replay", "this signature was already accepted", reason="replay")
    return None


async def _rate_limit(request: web.Request, ctx: Context) -> web.Response | None:
    """``rate_limit_per_minute`` per client address: in memory, or in the database when
    replicas share it, so the limit is one limit and not one per replica."""
    if ctx.store.shared:
        wait = await ctx.store.take_rate_token(request[CLIENT_IP], ctx.options.rate_limit_per_minute)
    else:
        wait = ctx.sync_limiter.hit(request[CLIENT_IP])
    if wait:
        return error_response(
            request,
            429,
            "rate_limited",
            f"more than {ctx.options.rate_limit_per_minute} requests per minute",
            reason="rate_limited",
            headers={"Retry-After": str(wait)},
        )
    return None


# --- LoRaWAN sub-application ----------------------------------------------------------------


@web.middleware
async def lorawan_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """404 while no ``lorawan_token`` is set (the endpoint does not exist), else 401 without
    it, then the rate limit (429).

    ChirpStack cannot sign requests or log in, so this route takes a static header token
    instead of the gateway's JWT and HMAC; allowlist, body size, content type (root) and
    the rate limit still apply.
    """
    ctx: Context = request.app[CTX]
    token = ctx.options.lorawan_token
    if not token:
        return error_response(request, 404, "not_found", "LoRaWAN ingest is disabled")
    if not token_matches(request.headers.get(ctx.options.lorawan_header, ""), token):
        return error_response(
            request,
            401,
            "unauthorized",
            f"missing or wrong token in {ctx.options.lorawan_header}",
            headers={"WWW-Authenticate": 'Bearer realm="hydro-fleet-lorawan"'},
        )
    return await _rate_limit(request, ctx) or await handler(request)


ROOT_MIDDLEWARES = (root_middleware,)
SYNC_MIDDLEWARES = (sync_middleware,)
LORAWAN_MIDDLEWARES = (lorawan_middleware,)

"""What every request of the receiver carries and how it is answered: the request's keys,
the client's address, whether it came from the gateway, and the JSON rejection.

The verification chain (``verification``) and the handlers (``app``) share these.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

from aiohttp import web

from .auth import TokenError
from .context import CTX, DATA_PATH, Context

_LOGGER = logging.getLogger("hydro_fleet_receiver.verification")  # the rejection lines keep their logger

REQUEST_ID = "hf_request_id"
STARTED = "hf_started"
CLIENT_IP = "hf_client_ip"
BODY = "hf_body"
SIGNATURE = "hf_signature"
HEADER_TS = "hf_header_ts"
BODY_SHA256 = "hf_body_sha256"
IDEMPOTENCY_KEY = "hf_idempotency_key"
AUTHENTICATED = "hf_authenticated"


def error_response(
    request: web.Request,
    status: int,
    error: str,
    detail: str,
    *,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    """A JSON rejection; counted in the metrics under ``reason`` when it is a sync request."""
    ctx = request.app[CTX] if CTX in request.app else request.config_dict[CTX]
    request_id = request.get(REQUEST_ID, "-")
    if reason is not None and request.path == DATA_PATH:
        ctx.metrics.reject(reason, authenticated=authenticated(request, ctx))
    # One line per rejection, with what identifies it and never a header value.
    _LOGGER.info(
        "%s %s from %s rejected with %s (%s): %s [request %s]",
        request.method,
        request.path,
        request.get(CLIENT_IP, "?"),
        status,
        error,
        detail,
        request_id,
    )
    body: dict[str, Any] = {"error": error, "detail": detail, "request_id": request_id}
    if extra:
        body.update(extra)
    return web.json_response(body, status=status, headers=headers)


def _peer(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unix" if peer else "?"


def client_ip(request: web.Request, ctx: Context) -> str:
    """The socket's peer, or the first untrusted hop of X-Forwarded-For behind a trusted proxy."""
    peer = _peer(request)
    proxies = ctx.trusted_proxies
    if not proxies:  # the common case: no need to parse the address at all
        return peer
    try:
        peer_ip = ipaddress.ip_address(peer)
    except ValueError:
        return peer
    if not proxies or not any(peer_ip in net for net in proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            hop_ip = ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled header from a trusted proxy: fall back to what we know
        if not any(hop_ip in net for net in proxies):
            return str(hop_ip)
    return peer


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticated(request: web.Request, ctx: Context) -> bool:
    """Whether a request carried a valid access token, i.e. came from the gateway.

    Known once the bearer check ran; a request turned away before it (allowlist, size,
    content type) is checked here, so a gateway refused by the allowlist still counts.
    """
    known: bool | None = request.get(AUTHENTICATED)
    if known is not None:
        return known
    token = bearer_token(request)
    if token is None:
        return False
    try:
        ctx.validate_access(token)
    except TokenError:
        return False
    return True


def stored_answer(request: web.Request, body_sha256: str, response: dict[str, Any]) -> web.Response:
    ctx: Context = request.app[CTX]
    if body_sha256 != request[BODY_SHA256]:
        return error_response(
            request,
            422,
            "idempotency_conflict",
            "Idempotency-Key was already used with a different body",
            reason="idempotency_conflict",
        )
    ctx.metrics.accept(time.perf_counter() - request[STARTED])
    return web.json_response(response, headers={"Idempotent-Replayed": "true"})

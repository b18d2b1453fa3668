"""A bound on the size of every request body the app accepts, with a Dutch message.

Questions are at most 1,000 characters (ui.app.MAX_QUESTION); a request also carries the chat history, so
the bound is far above what a long conversation sends, and far below what would tie up memory. Bodies
sent in chunks, without a Content-Length, are counted as they arrive.
"""
from __future__ import annotations

MAX_REQUEST_BYTES = 1_000_000
MESSAGE = (f"Het verzoek is te groot (meer dan {MAX_REQUEST_BYTES:,} bytes); stel een kortere vraag of begin een "
           f"nieuw gesprek.").replace(",", ".")


class BodyLimit:
    """ASGI middleware: 413 with MESSAGE for a body over `max_bytes`, declared or counted."""

    def __init__(self, app, max_bytes: int = MAX_REQUEST_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit():  # the server reads no more than declared
            return await (_refuse(send) if int(declared) > self.max_bytes else self.app(scope, receive, send))
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            return await self.app(scope, receive, send)
        # Chunked: read it here, up to the bound, so the app never holds more (or half a body it cannot parse).
        messages, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await _refuse(send)
            messages.append(message)
            if not message.get("more_body"):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(send) -> None:
    body = MESSAGE.encode("utf-8")
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

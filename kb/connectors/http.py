"""HTTP for the ingesters: timeouts, retries with backoff on transient errors, a rate limit per host,
and checks that a response is what it claims to be.

Council-information systems answer 200 with an HTML page for paths they do not know (GO's soft-404)
and SRU answers 200 with `<diagnostics>`; so every file is checked, not only the status code.

    >>> http = Http(rate_limit=2.0)            # at most 2 requests per second per host
    >>> data = http.get_json("https://api.notubiz.nl/organisations", params={"format": "json"})
"""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import httpx
from tenacity import (RetryError, Retrying, retry_if_exception, stop_after_attempt,
                      wait_exponential)

USER_AGENT = "kb-flevoland/0.1 (kennisbank Krachtige Samenleving; batch re-index)"
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class FetchError(Exception):
    """A request that failed for good; the message is Dutch and names the URL."""

    def __init__(self, url: str, reason: str, transient: bool = False):
        super().__init__(f"{reason} ({url})")
        self.url, self.reason, self.transient = url, reason, transient


class Http:
    """One client for a sync run. `rate_limit` is requests per second per host (0: unlimited)."""

    def __init__(self, rate_limit: float = 2.0, timeout: float = 30.0, retries: int = 4, backoff: float = 1.0):
        if rate_limit < 0 or timeout <= 0 or retries < 1 or backoff < 0:
            raise ValueError("rate_limit >= 0, timeout > 0, retries >= 1 en backoff >= 0 zijn vereist")
        self.interval = 1.0 / rate_limit if rate_limit else 0.0
        self.retries, self.backoff = retries, backoff
        self.client = httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT})
        self.requests = 0  # sent, retries included (the report counts them)
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, url: str, params: dict | None = None, method: str = "GET", json_body=None) -> httpx.Response:
        """The response of a successful request; transient failures are retried, others raise FetchError."""
        retrying = Retrying(stop=stop_after_attempt(self.retries), reraise=False,
                            wait=wait_exponential(multiplier=self.backoff, max=60 * self.backoff or 1),
                            retry=retry_if_exception(lambda e: isinstance(e, FetchError) and e.transient))
        try:
            return retrying(self._once, url, params, method, json_body)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise FetchError(last.url, f"{last.reason}; {self.retries} pogingen") from last

    def get_json(self, url: str, params: dict | None = None, method: str = "GET", json_body=None):
        response = self.get(url, params, method, json_body)
        try:
            return response.json()
        except ValueError as exc:
            kind = response.headers.get("content-type", "?")
            raise FetchError(str(response.url), f"geen JSON maar {kind}") from exc

    def get_file(self, url: str, suffix: str) -> bytes:
        """The file's bytes; a '.pdf' must really be a PDF (not an HTML page served with status 200)."""
        response = self.get(url)
        data = response.content
        if not data:
            raise FetchError(url, "leeg antwoord (0 bytes)")
        if suffix.lower() == ".pdf" and b"%PDF-" not in data[:1024]:
            kind = response.headers.get("content-type", "onbekend")
            what = "een HTML-pagina" if data.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")) else kind
            raise FetchError(url, f"geen PDF: de server stuurde {what}")
        return data

    def close(self) -> None:
        self.client.close()

    def _once(self, url: str, params, method: str, json_body) -> httpx.Response:
        self._wait_for_slot(urlsplit(url).netloc)
        self.requests += 1
        try:
            response = self.client.request(method, url, params=params, json=json_body)
        except httpx.TimeoutException as exc:
            raise FetchError(url, "time-out", transient=True) from exc
        except httpx.TransportError as exc:
            raise FetchError(url, f"verbinding mislukt: {type(exc).__name__}", transient=True) from exc
        if response.status_code in TRANSIENT_STATUS:
            self._honour_retry_after(urlsplit(url).netloc, response)
            raise FetchError(url, f"HTTP {response.status_code}", transient=True)
        if response.status_code >= 400:
            raise FetchError(url, f"HTTP {response.status_code}")
        return response

    def _wait_for_slot(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            self._next_slot[host] = slot + self.interval
        if slot > now:
            time.sleep(slot - now)

    def _honour_retry_after(self, host: str, response: httpx.Response) -> None:
        value = response.headers.get("retry-after", "")
        if value.isdigit():  # a server that says when to come back is believed (capped at a minute)
            with self._lock:
                self._next_slot[host] = max(self._next_slot.get(host, 0.0), time.monotonic() + min(int(value), 60))

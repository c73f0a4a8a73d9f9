"""Record timed actions and the HTTP exchanges made during each of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from probes.records import Action, HttpExchange, utc_now

# Nova sends both; every other service sends the first.
_REQUEST_ID_HEADERS = ("x-openstack-request-id", "x-compute-request-id")


class Trace:
    """Collects :class:`Action` and :class:`HttpExchange` records of one run.

    Attach :meth:`on_response` as a ``response`` hook of the
    ``requests.Session`` under the keystoneauth session, and every HTTP
    exchange is recorded with the name of the action it happened in.
    """

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        self.actions: list[Action] = []
        self.http: list[HttpExchange] = []
        self._open: list[str] = []

    @contextmanager
    def action(self, name: str) -> Iterator[None]:
        """Time the block as an action; it is recorded even when it raises."""
        started = self.clock()
        self._open.append(name)
        ok = False
        try:
            yield
            ok = True
        finally:
            self._open.pop()
            self.actions.append(Action(name, started, self.clock(), ok))

    def on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """``requests`` response hook: keep method, URL, status, request id."""
        received = self.clock()
        request = response.request
        request_id = None
        for header in _REQUEST_ID_HEADERS:
            request_id = response.headers.get(header)
            if request_id:
                break
        self.http.append(
            HttpExchange(
                action=self._open[-1] if self._open else None,
                method=str(request.method),
                url=str(request.url),
                status=int(response.status_code),
                request_id=request_id,
                sent_at=received - response.elapsed,
                received_at=received,
            )
        )

    def request_ids(self, action: str) -> list[str]:
        """Request ids of the exchanges made during the named action."""
        return [
            exchange.request_id
            for exchange in self.http
            if exchange.action == action and exchange.request_id
        ]

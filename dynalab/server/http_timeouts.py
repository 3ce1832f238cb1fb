"""uvicorn's h11 protocol with the two timeouts it lacks: reading a request's head, and a silent body.

A connection must deliver a whole request line and headers within
``header_timeout`` seconds of opening (or of its previous answer), and a body
may not go silent for more than ``body_timeout`` seconds while it is being
read; otherwise the connection is closed (an upload in progress is then
discarded, as for a client that went away). Time the server itself spends
not reading (flow control, while it checks what it has) does not count.
Passed to uvicorn as ``Config(http=...)`` by ``protocol_class``.
"""

import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("dynalab.server")


def protocol_class(header_timeout, body_timeout):
    """An ``H11Protocol`` subclass with these timeouts (uvicorn builds one per connection)."""
    return type("TimedH11Protocol", (TimedH11Protocol,),
                {"header_timeout": header_timeout, "body_timeout": body_timeout})


class TimedH11Protocol(H11Protocol):
    header_timeout = 10.0
    body_timeout = 30.0

    def connection_made(self, transport):
        super().connection_made(transport)
        self._header_timer = None
        self._body_timer = None
        self._arm_header_timer()

    def data_received(self, data):
        if self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # a request starts on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel("_header_timer")
        if self.conn.their_state is h11.SEND_BODY:
            self._cancel("_body_timer")
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_silent)
        else:
            self._cancel("_body_timer")

    def connection_lost(self, exc):
        self._cancel("_header_timer")
        self._cancel("_body_timer")
        super().connection_lost(exc)

    def _arm_header_timer(self):
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _cancel(self, name):
        timer = getattr(self, name)
        if timer is not None:
            timer.cancel()
            setattr(self, name, None)

    def _head_too_slow(self):
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("closing a connection from %s: no complete request head within %s s",
                     _peer(self.client), self.header_timeout)
            self.transport.close()

    def _body_silent(self):
        self._body_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        if self.flow.read_paused:  # we stopped reading, not the client stopped sending
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_silent)
            return
        log.info("closing a connection from %s: its request body sent nothing for %s s",
                 _peer(self.client), self.body_timeout)
        self.transport.close()


def _peer(client):
    return "%s:%d" % client if client else "a client"

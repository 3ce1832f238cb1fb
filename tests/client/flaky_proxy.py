"""A proxy on 127.0.0.1 that fails the first requests, then passes them to the real server.

It stands for a gateway in front of a restarting server: it reads each request
in full, answers the first ``failures`` of them with ``status``, and forwards
the rest. With ``forward_failures`` it forwards the failed ones too and only
the answer is lost, as when a gateway times out on a server that then succeeds.
With ``hold_posts`` (a ``threading.Event``) the answer to a POST is held back
until the event is set (at most 30 s), as a server that takes long to verify an
upload would; ``held`` records, per POST, whether the event was set in time.
``seen`` lists (method, path, body size) of every request received,
``user_agents`` their User-Agent headers.
"""

import http.client
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from loopback import LoopbackServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FlakyProxy(LoopbackServer):
    def __init__(self, upstream, failures=2, status=503, methods=("GET", "POST"), forward_failures=False,
                 hold_posts=None):
        self.upstream = urlsplit(upstream)
        self.failures = failures
        self.status = status
        self.methods = methods
        self.forward_failures = forward_failures
        self.hold_posts = hold_posts
        self.held = []
        self.seen = []
        self.user_agents = []
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def _should_fail(self, method):
        with self._lock:
            if method in self.methods and self.failures > 0:
                self.failures -= 1
                return True
            return False

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.seen.append((self.command, self.path, len(body)))
                proxy.user_agents.append(self.headers.get("User-Agent"))
                failing = proxy._should_fail(self.command)
                if failing and proxy.forward_failures:
                    self._forward(body)  # the server gets it; the client only hears the failure
                if failing:
                    text = b'{"detail": "upstream is restarting"}'
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return
                status, headers, data = self._forward(body)
                if proxy.hold_posts is not None and self.command == "POST":
                    proxy.held.append(proxy.hold_posts.wait(timeout=30))
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _forward(self, body):
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                return answer.status, answer.getheaders(), data

            do_GET = do_POST = _relay

        return Handler

"""An HTTP server of a test's own on 127.0.0.1, served from a thread for the length of a ``with`` block."""

import threading
from http.server import ThreadingHTTPServer


class LoopbackServer:
    """Serves ``handler`` (a ``BaseHTTPRequestHandler`` class) on a free port of 127.0.0.1 at ``url``."""

    def __init__(self, handler):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

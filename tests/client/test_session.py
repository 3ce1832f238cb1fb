"""The one session: this machine's loopback is told apart the same way for proxies and for plain http."""

import pytest

from dynalab.client.api import resolve_server
from dynalab.client.session import is_loopback, make_session


@pytest.mark.parametrize("host, loopback", [("localhost", True), ("127.0.0.1", True), ("127.3.2.1", True),
                                            ("::1", True), ("10.0.0.1", False), ("example.org", False),
                                            ("", False), (None, False)])
def test_loopback_is_this_machine(host, loopback):
    assert is_loopback(host) is loopback


def test_the_session_sends_no_proxy_to_loopback_and_plain_http_is_for_loopback_only(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    with make_session() as session:
        settings = session.merge_environment_settings("http://127.0.0.1:8000/tasks", {}, False, None, None)
        assert settings["proxies"] == {}
        elsewhere = session.merge_environment_settings("http://example.org/tasks", {}, False, None, None)
        assert elsewhere["proxies"]
    monkeypatch.delenv("DYNALAB_ALLOW_HTTP", raising=False)
    monkeypatch.delenv("DYNALAB_API_URL", raising=False)
    assert resolve_server("http://127.0.0.1:8000").url == "http://127.0.0.1:8000"

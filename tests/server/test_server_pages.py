"""The /generate_api_token page: sign in with email and password, see a new API token."""

import re

from server_support import Api


def test_the_page_shows_a_sign_in_form(shared_server):
    page = Api(shared_server.url).get("/generate_api_token")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'method="post"' in page.text and 'name="email"' in page.text and 'name="password"' in page.text
    assert "issues a <strong>new</strong> token" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_signing_in_shows_a_new_token_with_a_copy_button(shared_server):
    old = shared_server.add_user("web@example.org", password="s3cret pass")
    api = Api(shared_server.url)
    page = api.http.post(api.url + "/generate_api_token", data={"email": "web@example.org", "password": "s3cret pass"})
    assert page.status_code == 200
    assert ">Copy</button>" in page.text
    token = re.search(r'<code class="token" id="token">([^<]+)</code>', page.text).group(1)
    assert api.refresh(token).status_code == 200
    assert api.refresh(old).status_code == 401  # only a hash was kept, so showing it meant a new one
    assert "previous one, which no longer works" in page.text


def test_a_wrong_password_or_unknown_email_shows_the_form_again(shared_server):
    token = shared_server.add_user("careful-web@example.org", password="right")
    api = Api(shared_server.url)
    for email, password in (("careful-web@example.org", "wrong"), ("nobody@example.org", "right")):
        page = api.http.post(api.url + "/generate_api_token", data={"email": email, "password": password})
        assert page.status_code == 401
        assert "Wrong email or password." in page.text and 'name="password"' in page.text
    assert api.refresh(token).status_code == 200  # nothing was rotated


def test_an_account_without_password_cannot_sign_in_on_the_web(shared_server):
    shared_server.add_user("cli-only@example.org")
    api = Api(shared_server.url)
    page = api.http.post(api.url + "/generate_api_token", data={"email": "cli-only@example.org", "password": ""})
    assert page.status_code == 401


def test_the_email_is_escaped_in_the_page(shared_server):
    api = Api(shared_server.url)
    page = api.http.post(api.url + "/generate_api_token", data={"email": "<script>x</script>", "password": "p"})
    assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text

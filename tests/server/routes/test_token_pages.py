"""The /generate_api_token pages: sign in, see the account, issue a new token only when asked."""

import os
import threading

from server_support import Api, Browser


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_page_shows_a_sign_in_form_with_a_csrf_token_in_a_session_cookie(shared_server):
    browser = Browser(shared_server.url)
    page = browser.open()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'method="post"' in page.text and 'name="email"' in page.text and 'name="password"' in page.text
    assert len(browser.csrf) >= 32
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("dynalab_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # served over plain http here
    # Someone whose account add-user made learns what to do instead of signing in.
    assert "dynalab-server set-password EMAIL" in page.text and "API token the administrator gave you" in page.text


def test_the_cookie_is_secure_when_the_page_is_served_over_https(shared_server):
    # A reverse proxy on this machine says so; uvicorn trusts it from 127.0.0.1.
    page = Browser(shared_server.url, headers={"X-Forwarded-Proto": "https"}).open()
    assert "Secure" in page.headers["Set-Cookie"]


def test_signing_in_shows_the_account_and_leaves_the_token_working(shared_server):
    token = shared_server.add_user("web@example.org", password="s3cret pass")
    browser = Browser(shared_server.url)
    page = browser.sign_in("Web@Example.org", "s3cret pass")
    assert page.status_code == 200 and page.history[0].status_code == 303
    assert "Signed in as <strong>web@example.org</strong>" in page.text
    assert "cannot show it again" in page.text and browser.token() is None
    assert Api(shared_server.url).refresh(token).status_code == 200  # the CI jobs using it still work
    assert "Signed in as" in browser.open().text  # the session cookie keeps them signed in


def test_a_new_token_is_issued_only_on_a_confirmed_request(shared_server):
    old = shared_server.add_user("rotate-web@example.org", password="pw-rotate")
    api = Api(shared_server.url)
    browser = Browser(shared_server.url)
    browser.sign_in("rotate-web@example.org", "pw-rotate")
    assert "my current token stops working everywhere" in browser.page.text and "<strong>everywhere</strong>" in browser.page.text

    unconfirmed = browser.submit("new_token")
    assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.text
    assert api.refresh(old).status_code == 200

    page = browser.submit("new_token", confirm="yes")
    assert page.status_code == 200 and ">Copy</button>" in page.text
    new = browser.token()
    assert api.refresh(new).status_code == 200
    assert api.refresh(old).status_code == 401
    assert "previous one, which no longer works" in page.text
    # Reloading the page posts the form again: refused, the new token stays.
    again = browser.http.post(shared_server.url + "/generate_api_token", data=page.request.body,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert again.status_code == 403
    assert api.refresh(new).status_code == 200


def test_forms_without_the_sessions_csrf_token_are_refused(shared_server):
    old = shared_server.add_user("csrf@example.org", password="pw-csrf")
    victim = Browser(shared_server.url)
    victim.sign_in("csrf@example.org", "pw-csrf")
    # Another site can make the victim's browser post, cookie included, but not read the token.
    forged = victim.submit("new_token", csrf="guessed", confirm="yes")
    assert forged.status_code == 403 and "This form has expired" in forged.text
    attacker = Browser(shared_server.url)
    attacker.open()
    victim.open()
    replayed = victim.submit("new_token", csrf=attacker.csrf, confirm="yes")
    assert replayed.status_code == 403
    assert Api(shared_server.url).refresh(old).status_code == 200
    # A sign-in posted without ever showing the form (no cookie) is refused too.
    blind = Api(shared_server.url).http.post(shared_server.url + "/generate_api_token",
                                             data={"email": "csrf@example.org", "password": "pw-csrf"})
    assert blind.status_code == 403


def test_signing_out_and_a_new_password_end_the_session(shared_server):
    shared_server.add_user("session@example.org", password="first")
    browser = Browser(shared_server.url)
    browser.sign_in("session@example.org", "first")
    page = browser.submit("sign_out")
    assert 'name="password"' in page.text and "Signed in as" not in page.text

    browser.sign_in("session@example.org", "first")
    assert "Signed in as" in browser.page.text
    shared_server.cli("set-password", "session@example.org", "--password-stdin", input="second\n")
    assert 'name="password"' in browser.open().text


def test_a_wrong_password_an_unknown_email_and_no_password_look_alike(shared_server):
    shared_server.add_user("alike@example.org", password="right")
    shared_server.add_user("alike-cli-only@example.org")
    attempts = {"wrong password": ("alike@example.org", "wrong"),
                "unknown email": ("nobody@example.org", "right"),
                "no password": ("alike-cli-only@example.org", "")}
    answers, cpu = {}, {}
    for case, (email, password) in attempts.items():
        browser = Browser(shared_server.url)
        browser.open()
        before = cpu_seconds(shared_server.pid)
        page = browser.submit("sign_in", email=email, password=password)
        cpu[case] = cpu_seconds(shared_server.pid) - before
        answers[case] = (page.status_code, "Wrong email or password." in page.text, 'name="password"' in page.text)
    assert set(answers.values()) == {(401, True, True)}
    # Each one costs the server a full password hash, so the time taken tells nothing.
    slowest = max(cpu.values())
    assert slowest > 0.05, cpu
    assert min(cpu.values()) > slowest / 2, cpu


def test_failed_sign_ins_are_limited_per_email_then_per_address(start_server):
    server = start_server()
    server.add_user("guessed@example.org", password="the-right-one")

    def fail(email, address):
        browser = Browser(server.url, headers={"X-Forwarded-For": address})
        browser.open()
        return browser.submit("sign_in", email=email, password="a guess").status_code

    def fail_in_parallel(emails, address):
        threads = [threading.Thread(target=fail, args=(email, address)) for email in emails]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    fail_in_parallel(["guessed@example.org"] * 5, "192.0.2.1")
    right = Browser(server.url, headers={"X-Forwarded-For": "192.0.2.2"})
    page = right.sign_in("guessed@example.org", "the-right-one")
    assert page.status_code == 429, page.text
    assert "Too many failed sign-ins" in page.text and "try again in 14 min" in page.text
    assert 800 < int(page.headers["Retry-After"]) <= 900

    # One address trying many emails is stopped too, whichever email comes next.
    fail_in_parallel([f"user{i}@example.org" for i in range(15)], "192.0.2.1")  # 20 failures in all
    assert fail("someone-else@example.org", "192.0.2.1") == 429
    assert fail("someone-else@example.org", "192.0.2.3") == 401


def test_the_email_is_escaped_in_the_page(shared_server):
    browser = Browser(shared_server.url)
    page = browser.sign_in("<script>x</script>", "p")
    assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text


def test_a_form_too_large_is_refused_while_it_arrives(shared_server):
    browser = Browser(shared_server.url)
    browser.open()
    # Announced by its Content-Length, or sent in chunks of unknown total length: refused either way.
    big = {"csrf_token": browser.csrf, "action": "sign_in", "email": "a@example.org", "password": "x" * 20_000}
    announced = browser.http.post(shared_server.url + "/generate_api_token", data=big, timeout=30)
    chunked = browser.http.post(shared_server.url + "/generate_api_token", timeout=30,
                                data=iter([b"csrf_token=" + browser.csrf.encode() + b"&password="] + [b"x" * 1024] * 40),
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    for page in (announced, chunked):
        assert page.status_code == 413 and "The form is too large." in page.text
        assert 'name="password"' in page.text and page.headers["Set-Cookie"].startswith("dynalab_session=")
        assert page.headers["Cache-Control"] == "no-store"
    assert Browser(shared_server.url).open().status_code == 200

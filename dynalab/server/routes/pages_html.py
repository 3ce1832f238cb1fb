"""The HTML of the web pages where a user signs in and manages their API token.

Plain strings, no template engine: three small pages. Every value put into
them goes through ``html.escape``, and every form carries the CSRF token.
"""

from html import escape

from dynalab.server.web_session import CSRF_FIELD

# Token pages must not be cached, framed, or leak through a Referer header.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem;
       color: #222; line-height: 1.5; }
label { display: block; margin-top: 1rem; }
input[type=email], input[type=password] { width: 100%; padding: .4rem; font-size: 1rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
button { margin-top: 1rem; padding: .4rem 1rem; font-size: 1rem; }
code, .token { font-family: ui-monospace, monospace; }
.token { display: block; padding: .6rem; background: #f3f3f3; border: 1px solid #ccc;
         word-break: break-all; }
.error { color: #a00; }
.note { color: #555; font-size: .9rem; }
"""


def _page(title, body):
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def _csrf(token):
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">'


def _alert(error):
    return f'<p class="error" role="alert">{escape(error)}</p>' if error else ""


def sign_in_page(csrf, error=None, email="", next_page=""):
    return _page("Dynalab: your API token", f"""
{_alert(error)}
<p>Sign in to manage the API token that <code>dynalab-cli login</code> asks for.</p>
<form method="post" action="generate_api_token">
  {_csrf(csrf)}
  <input type="hidden" name="action" value="sign_in">
  <input type="hidden" name="next" value="{escape(next_page)}">
  <label>Email <input type="email" name="email" value="{escape(email)}" required autofocus
         autocomplete="username"></label>
  <label>Password <input type="password" name="password" required
         autocomplete="current-password"></label>
  <button type="submit">Sign in</button>
</form>
<p class="note" id="no-password">No password yet? An account made with <code>dynalab-server add-user</code>
has none until the server's administrator sets one (<code>dynalab-server set-password EMAIL</code>).
Until then, use the API token the administrator gave you when the account was made: paste it
where <code>dynalab-cli login</code> asks for it.</p>
""")


def account_page(email, csrf, error=None):
    return _page("Dynalab: your API token", f"""
{_alert(error)}
<p>Signed in as <strong>{escape(email)}</strong>.</p>
<p>The server keeps only a hash of your API token, so it cannot show it again. If
<code>dynalab-cli login</code> already has it, there is nothing to do here.</p>
<h2>Issue a new token</h2>
<p>Lost your token, or think someone else has it? A new one replaces it: the current token stops
working at once, <strong>everywhere</strong> it is used. Every machine and CI job logged in with it
must log in again with the new one.</p>
<form method="post" action="generate_api_token">
  {_csrf(csrf)}
  <input type="hidden" name="action" value="new_token">
  <label><input type="checkbox" name="confirm" value="yes" required>
    I understand that my current token stops working everywhere</label>
  <button type="submit">Issue a new API token</button>
</form>
<form method="post" action="generate_api_token">
  {_csrf(csrf)}
  <input type="hidden" name="action" value="sign_out">
  <button type="submit">Sign out</button>
</form>
""")


def token_page(email, token):
    return _page("Dynalab: your API token", f"""
<p>Signed in as <strong>{escape(email)}</strong>. Your new API token:</p>
<code class="token" id="token">{escape(token)}</code>
<button type="button" id="copy">Copy</button> <span id="copied" class="note" aria-live="polite"></span>
<p>Paste it where <code>dynalab-cli login</code> asks for it, or in CI run
<code>dynalab-cli login --token-stdin</code> (or set <code>DYNALAB_API_TOKEN</code>).</p>
<p class="note">This token replaces your previous one, which no longer works. It is shown only
once: the server keeps only its hash. Keep it secret, like a password.</p>
<p><a href="generate_api_token">Back to your account</a></p>
<script>
document.getElementById("copy").addEventListener("click", function () {{
  var text = document.getElementById("token").textContent;
  var done = function () {{ document.getElementById("copied").textContent = "Copied."; }};
  if (navigator.clipboard && window.isSecureContext) {{
    navigator.clipboard.writeText(text).then(done);
  }} else {{
    var range = document.createRange();
    range.selectNodeContents(document.getElementById("token"));
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (document.execCommand("copy")) {{ done(); }}
  }}
}});
</script>
""")

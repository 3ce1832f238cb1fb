"""The server's web pages: Jinja2 templates (``templates/``), one stylesheet and one small script (``static/``).

Every page works without JavaScript; the script only adds live weight
sliders to the leaderboard. Links are relative to the page (``root`` is the
way back to the server's root), so a server mounted under a prefix works.
Templates escape every value (autoescape); forms that change something carry
the session's CSRF token (``web_session``).
"""

from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from dynalab.server.web_session import CSRF_FIELD

STATIC_DIR = Path(__file__).parent / "static"

# Pages may be framed nowhere and load nothing from elsewhere.
HEADERS = {
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
}


def number(value, digits=4):
    """A score as people read it: 4 significant digits, thousands separated."""
    if value is None:
        return ""
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def when(text):
    """An ISO time of the API as a short UTC time: 2026-12-02 07:31 UTC."""
    return f"{text[:10]} {text[11:16]} UTC" if text else ""


_environment = Environment(loader=PackageLoader("dynalab.server.web", "templates"),
                           autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
_environment.filters.update(number=number, when=when)
_environment.globals.update(csrf_field=CSRF_FIELD)


def page(template, status=200, private=False, headers=None, **context):
    """The page ``template`` rendered with ``context``; ``private`` pages (an owner's) are never cached."""
    text = _environment.get_template(template).render(**context)
    cache = "no-store" if private else "no-cache"
    return HTMLResponse(text, status_code=status, headers={**HEADERS, "Cache-Control": cache, **(headers or {})})


def wants_html(request):
    """True when the client prefers HTML to JSON (a browser), by its Accept header."""
    accept = request.headers.get("accept", "")
    quality = {}
    for item in accept.split(","):
        kind, *params = [part.strip() for part in item.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        quality[kind.lower()] = max(q, quality.get(kind.lower(), 0.0))
    anything = quality.get("*/*", 0.0)
    html = quality.get("text/html", quality.get("text/*", anything))
    json = quality.get("application/json", quality.get("application/*", anything))
    return html > json

"""``login`` and ``logout``: keep a checked API token in ``~/.dynalab/secrets.json``.

On a terminal, login opens the server's token page in a browser and reads
the pasted token without echoing it. In CI the token comes from ``--token``,
``--token-stdin`` or ``DYNALAB_API_TOKEN`` (see ``dynalab.client.auth``).
A token is saved only after the server has accepted it.
"""

import getpass
import webbrowser

from dynalab.client import api, auth


def token_page(url):
    """The page where a signed-in user sees their API token."""
    return f"{url}/generate_api_token"


def login(url, token=None, token_stdin=False, open_browser=True, session=None, out=print):
    """Check a token with the server at ``url`` and save it; return the secrets file's path.

    Raises ``AuthError`` when no token is given and nobody can be asked, or
    when the server rejects it; ``ServerError`` when the server is unreachable.
    """

    def ask():
        page = token_page(url)
        out(f"Open {page} in a browser, sign in and copy your API token.")
        if open_browser:
            # webbrowser falls back quietly when there is no browser (ssh, containers).
            webbrowser.open(page)
        return getpass.getpass("Paste your API token (it is not shown): ")

    # Nobody should paste a token, then wait through retries, for a server that is down.
    api.check_reachable(url, session=session)
    credential = auth.resolve_token(token=token, token_stdin=token_stdin, use_saved=False, prompt=ask)
    api.check_token(url, credential.token, session=session)
    return auth.save_token(credential.token, api_url=url)


def logout():
    """Forget the saved token; True if one was saved."""
    return auth.delete_token()

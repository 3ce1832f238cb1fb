"""``dynalab-cli login`` and ``logout``: keep a checked API token for the evaluation server.

The logic (where the token comes from, checking it, the secrets file) is
``dynalab.client.login`` and ``dynalab.client.auth``'s; here it meets the flags.
"""

from dynalab.steps.results import Outcome


def login(run):
    """The step's action: check the token with the server and save it."""
    from dynalab.client import api, login as client_login

    flags = run.flags
    url = api.resolve_api_url(flags.api_url)
    path = client_login.login(url, token=flags.token, token_stdin=flags.token_stdin,
                              open_browser=not flags.no_browser, out=run.out)
    run.out(f"Logged in to {url}; token saved in {path}")
    return Outcome(details={"api_url": url, "secrets_file": str(path)})


def logout(run):
    """The step's action: forget the saved token."""
    from dynalab.client import login as client_login

    forgotten = client_login.logout()
    run.out("Logged out." if forgotten else "Not logged in: nothing to forget.")
    return Outcome(details={"forgotten": forgotten})

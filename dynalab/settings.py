"""``python -m dynalab.settings set [--if-unset] FIELD VALUE``: change one of this machine's settings.

The settings themselves (``~/.dynalab/settings.yaml``, what each means and the
order values are looked up in) are ``dynalab.project.settings``; ``.ci/setup``
records the base image it built with this command.
"""

import argparse
import sys

from dynalab.errors import ConfigError
from dynalab.project.settings import field_value, set_value, settings_path, user_settings


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dynalab.settings", description="Change Dynalab's settings for this machine.")
    commands = parser.add_subparsers(dest="command", required=True)
    setter = commands.add_parser("set", help="set one setting, e.g. integrated_test.docker.base_image local/debian-py:bookworm")
    setter.add_argument("field")
    setter.add_argument("value")
    setter.add_argument("--if-unset", action="store_true", help="keep a value the file already has")
    args = parser.parse_args(argv)
    try:
        current = field_value(user_settings(), tuple(args.field.split(".")))
        if args.if_unset and current is not None:
            print(f"{args.field} stays {current} in {settings_path()}")
            return 0
        path = set_value(args.field, args.value)
    except ConfigError as error:
        from dynalab.cli.main import failure

        message, code = failure(error)
        print(message, file=sys.stderr)
        return code
    print(f"{args.field} = {args.value} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

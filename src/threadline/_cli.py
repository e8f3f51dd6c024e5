"""The ``threadline`` console script: the server's command line, or one line saying how to get it.

It lives in the SDK's half of the package so that an SDK-only install (``pip install threadline``)
answers with an install hint instead of a ``ModuleNotFoundError`` traceback.
"""

from __future__ import annotations

import sys

INSTALL_HINT = "threadline: the command line needs the server extra; install it with: pip install 'threadline[server]'"


def main() -> None:
    try:
        from threadline.server.cli.main import main as server_main
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] == "threadline":
            raise  # a broken install of Threadline itself, not a missing extra
        print(INSTALL_HINT, file=sys.stderr)
        sys.exit(1)
    server_main()

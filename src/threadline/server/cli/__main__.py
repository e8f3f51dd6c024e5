"""``python -m threadline.server.cli``: the ``threadline`` command."""

import sys

from threadline.server.cli.main import main

sys.exit(main())

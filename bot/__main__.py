"""``python -m bot``: the same program as the ``taskbot`` console script."""

import sys

from bot.cli import main

sys.exit(main())

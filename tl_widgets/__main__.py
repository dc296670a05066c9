"""``python -m tl_widgets`` runs the CLI."""

import sys

from tl_widgets.cli import main

sys.exit(main())

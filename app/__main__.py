"""``python -m app`` is the ``vellum`` command."""

import sys

from app.cli import main

sys.exit(main())

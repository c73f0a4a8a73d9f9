"""``python -m probes`` runs the ``bootprobe`` command."""

import sys

from probes.cli import main

sys.exit(main())

"""``python -m mmfuse`` runs the command line interface."""

from mmfuse.cli import main

raise SystemExit(main())

"""``python -m embeddings`` runs the command line."""

from embeddings.cli import main

raise SystemExit(main())

"""``python -m sipsec`` runs the command line."""

from sipsec.cli.main import main

main()

"""The ``sipsec`` command line: one module per sub-command."""

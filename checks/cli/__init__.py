"""The ``katas`` command: one module per subcommand, output through ``checks.cli.output``."""

"""The ``pyhpe data`` subcommands, one module each (``add_arguments``, ``run``)."""

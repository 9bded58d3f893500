#!/usr/bin/env python
"""Same as ``pyhpe data show``: draw dataset samples into a PNG grid."""
import sys

from pyhpe.cli import main

if __name__ == "__main__":
    sys.exit(main(["data", "show", *sys.argv[1:]]))

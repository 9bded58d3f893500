#!/usr/bin/env python
"""Same as ``pyhpe data biwi-preprocess``: raw BIWI -> FSA-Net-style npz."""
import sys

from pyhpe.cli import main

if __name__ == "__main__":
    sys.exit(main(["data", "biwi-preprocess", *sys.argv[1:]]))

#!/usr/bin/env python
"""Same as ``pyhpe data filelist``: 6DRepNet file list for 300W-LP / AFLW2000."""
import sys

from pyhpe.cli import main

if __name__ == "__main__":
    sys.exit(main(["data", "filelist", *sys.argv[1:]]))

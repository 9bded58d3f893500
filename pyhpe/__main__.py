import sys

from pyhpe.cli import main

sys.exit(main())

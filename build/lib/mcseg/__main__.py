import sys

from mcseg.cli import main

sys.exit(main())

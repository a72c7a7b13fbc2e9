"""`python -m evsite_sign` (with signing/ on the path) runs the tool."""

import sys

from evsite_sign.cli import main

sys.exit(main(sys.argv[1:]))

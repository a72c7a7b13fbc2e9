"""`python -m evsite` is the `evsite` command."""

import sys

from evsite.cli import main

sys.exit(main())

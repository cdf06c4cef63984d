"""`python -m liverbench ...` is the same as the `liverbench` command."""

import sys

from liverbench.commands.cli import main

sys.exit(main())

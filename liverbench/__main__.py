"""`python -m liverbench ...` is the same as the `liverbench` command."""

import sys

from liverbench.cli import main

sys.exit(main())

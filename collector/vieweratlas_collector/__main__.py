"""``python -m vieweratlas_collector``."""

import sys

from vieweratlas_collector.main import main

sys.exit(main())

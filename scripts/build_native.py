"""`make install` runs this: the per-answer analysis compiled by mypyc (diagnosis/analysis/native.py).

A failed build prints one line and leaves the analysis running as Python; it never fails the
install. The test suite's native test fails under CI=true when no build is there.
"""

import sys

from diagnosis.analysis.native import main

sys.exit(main())

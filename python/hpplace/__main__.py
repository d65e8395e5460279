"""python3 -m hpplace watch|status|plan"""

import sys

from ._watch import main

sys.exit(main())

"""`python -m station.service`: the headless service main (the same as `station service`)."""

import sys

from station.service.main import main

sys.exit(main())

import sys

from adain.cli.main import main

sys.exit(main())

#!/usr/bin/env python3
"""The local stack's command line; the code is the devstack package next to this file."""

import sys

from devstack.cli import main

sys.exit(main())

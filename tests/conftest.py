"""Test settings shared by every module.

Hypothesis runs derandomised when the ``CI`` environment variable is set, so a
CI failure reproduces exactly; locally it explores new examples each run.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

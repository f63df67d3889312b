"""Session-wide test settings shared by every suite.

Prefect reads its settings when first imported, so they are set here before any
test module imports it: a throwaway PREFECT_HOME (results and caches of one run
must not leak into the next), no profiles file and no PREFECT_API_URL from the
developer's shell (after `rift up` and `prefect profile use`, tests would otherwise
talk to that server), no telemetry offline, and a startup timeout long enough for
this machine's ephemeral server.
"""
from __future__ import annotations

import os
import tempfile

import pytest

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="rift-test-prefect-")
os.environ["PREFECT_PROFILES_PATH"] = os.path.join(os.environ["PREFECT_HOME"], "profiles.toml")
os.environ.pop("PREFECT_PROFILE", None)
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_API_AUTH_STRING", None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


@pytest.fixture(scope="session")
def prefect_api():
    """One temporary Prefect server for the whole session (about 25 s to start), for tests that
    must save or load blocks, deployments or flow runs through the API. Request it only where needed."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield

"""Property-based run of schemathesis against the gateway's OpenAPI, as a signed-in user:
no request may give a 500, no response may break its declared schema.

    make fuzz        (RUN_FUZZ=1 pytest tests/fuzz -s)

Not in ``make test``: it runs for minutes. Routes that end the session or the account
(logout-all, password, DELETE /users/me) are left out so that the run keeps its user.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import Stack
from tests.e2e.helpers import new_user

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.environ.get("RUN_FUZZ"), reason="make fuzz runs this"),
]


def test_no_request_gives_a_500_or_breaks_the_schema(stack: Stack, tmp_path: Path) -> None:
    user = new_user(stack)
    token = user.client.headers["Authorization"]
    examples = os.environ.get("FUZZ_EXAMPLES", "40")
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            stack.url("gateway") + "/openapi.json",
            "--url",
            stack.url("gateway"),
            "-H",
            f"Authorization: {token}",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,"
            "content_type_conformance",
            "--max-examples",
            examples,
            "--exclude-path",
            "/api/v1/auth/logout-all",
            "--exclude-path",
            "/api/v1/auth/password",
            "--exclude-path",
            "/api/v1/users/me",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    print(done.stdout[-6000:])  # the summary, for the record
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

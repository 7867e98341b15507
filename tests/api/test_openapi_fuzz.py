"""schemathesis, every check, against a real `diagnosis serve` (issue 14, 7): no 500, no status
code the document does not list, no response that breaks its documented schema, no schema-valid
input refused and no schema-invalid input accepted. A fixed seed keeps the run reproducible;
`make fuzz` runs the same thing by hand."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import server_process

pytestmark = pytest.mark.slow

SEED = 20261201
CONFIG = Path(__file__).resolve().parents[1] / "schemathesis.toml"
MAX_EXAMPLES = 30


def schemathesis_command(base_url: str, report_dir: Path) -> list[str]:
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable, "schemathesis is a dev dependency: make install"
    return [
        executable, "--config-file", str(CONFIG), "run", f"{base_url}/openapi.json",
        "--checks", "all", "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES),
        "--no-color", "--request-timeout", "30",
        "--report", "junit", "--report-dir", str(report_dir),
    ]


def test_schemathesis_finds_no_defect(tmp_path):
    with server_process.running(
        tmp_path, DIAGNOSIS_START_RATE_PER_MIN="100000", DIAGNOSIS_MAX_TASKS="40",
        DIAGNOSIS_LOG_LEVEL="ERROR",
    ) as server:
        done = subprocess.run(
            schemathesis_command(server.base_url, tmp_path / "report"),
            capture_output=True, text=True, timeout=900, cwd=tmp_path,
        )
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-3000:]

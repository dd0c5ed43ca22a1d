"""The quickstart in examples/python runs as written (echo provider, a fresh directory) and
prints the streamed events, then `invalid_credentials`."""

import os
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "python" / "quickstart.py"


def test_the_quickstart_prints_the_stream_then_the_error_code(tmp_path: Path) -> None:
    env = {**os.environ, "DELEGATE_AI_PROVIDER": "echo", "NODE_ENV": "test"}
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "DELEGATE_REDIS_PREFIX"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, str(QUICKSTART)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("delta ")
    assert lines[-2].startswith("done ") and lines[-2].endswith("hello")
    assert lines[-1] == "invalid_credentials"

"""The shipped Python example runs and checks its bytes (examples/python/kv_connector.py)."""
import os

from conftest import run_py

SRC = os.environ.get("SMEM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def test_kv_connector_example():
    path = os.path.join(SRC, "examples", "python", "kv_connector.py")
    with open(path) as f:
        code = f.read()
    p = run_py(code, timeout=60, args=("--blocks", "4", "--batch", "3"))
    assert "bytes match" in p.stdout, p.stdout

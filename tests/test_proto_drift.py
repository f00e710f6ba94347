"""The committed qsched/v1 code is exactly what proto/ generates."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "tools" / "gen_proto.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_code_matches_proto(tmp_path):
    fresh = _load_generator().generate(tmp_path)
    committed = sorted((ROOT / "qsched" / "v1").glob("*_pb2*.py*"))
    assert [p.name for p in fresh] == [p.name for p in committed]
    drifted = [
        p.name for p, c in zip(fresh, committed, strict=True) if p.read_bytes() != c.read_bytes()
    ]
    assert not drifted, f"qsched/v1 is out of date with proto/ ({drifted}); run `make proto`"

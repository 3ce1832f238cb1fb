"""The deployment's size limit: a warning that counts every packaged file and names the largest entries."""

from dynalab.packaging.selection import scan
from dynalab.packaging.size_check import warn_if_too_big


def test_size_warning_counts_nested_files_and_names_the_largest(make_project):
    project_root = make_project("bad-label")
    (project_root / "checkpoints" / "old").mkdir(parents=True)
    (project_root / "checkpoints" / "old" / "epoch1.pt").write_bytes(b"0" * 6000)
    (project_root / "data").mkdir()
    (project_root / "data" / "train.txt").write_bytes(b"0" * 3000)
    config = {"handler": "handler.py", "checkpoint": "model.pt", "model_files": [], "exclude": [], "task": "nli"}
    lines = []
    total = warn_if_too_big(scan(project_root.resolve(), "m", config), "m", out=lines.append, limit=5000)
    assert total > 9000
    assert len(lines) == 1
    assert "checkpoints" in lines[0] and "data" in lines[0] and "exclude" in lines[0]
    assert lines[0].index("checkpoints") < lines[0].index("data"), "largest first"
    lines.clear()
    config["exclude"] = ["checkpoints", "data"]
    warn_if_too_big(scan(project_root.resolve(), "m", config), "m", out=lines.append, limit=5000)
    assert lines == []

"""HCSP instance files of every published size: both header forms, compressed files, the
instance names their solution files use, and a clear error for a file that is no problem."""

from __future__ import annotations

import gzip
import lzma
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsched.cli import main
from qsched.formats import files, hcsp
from qsched.model.problem import ProblemError

HCSP = Path(__file__).resolve().parent.parent / "datasets" / "hcsp"
BRAUN = HCSP / "512x16" / "u_c_lolo.0"
#: What every unreadable file's error says was expected.
EXPECTED = "expected an ETC instance (a `T M` or `T M 0` first line"


def written(path: Path, text: bytes) -> Path:
    """``text`` in ``path``, compressed as its suffix says."""
    if path.suffix == ".xz":
        text = lzma.compress(text)
    elif path.suffix == ".gz":
        text = gzip.compress(text)
    path.write_bytes(text)
    return path


@pytest.mark.parametrize(("size", "count"), [("2048x64", 12), ("4096x128", 6)])
def test_the_larger_published_sets_load_compressed_with_two_number_headers(size, count):
    paths = sorted(p for p in (HCSP / size).iterdir() if hcsp.is_etc_file(p))
    tasks, machines = (int(n) for n in size.split("x"))
    assert len(paths) == count and all(p.suffix == ".xz" for p in paths)
    assert hcsp.read_bytes(paths[0]).split(b"\n", 1)[0].split() == [b"%d" % tasks, b"%d" % machines]
    zeros = 0
    for path in paths:
        etc = hcsp.read_etc(path)
        assert etc.shape == (tasks, machines) and (etc >= 0).all() and np.isfinite(etc).all()
        zeros += int((etc == 0).sum())
    assert zeros > 0  # entries of 0.00 are data: a task that costs nothing there


def test_both_header_forms_and_both_compressions_read_the_same_matrix(tmp_path):
    text = BRAUN.read_bytes()
    header, _, body = text.partition(b"\n")
    assert header.split() == [b"512", b"16", b"0"]
    expected = hcsp.read_etc(BRAUN)
    for name, contents in (
        ("two.0", b"512 16\n" + body),
        ("plain.0.xz", text),
        ("u_c_lolo.0.gz", b"512 16\n" + body),
        ("one-line.0", b"512 16 0\n" + b" ".join(body.split())),  # any whitespace parts values
    ):
        path = written(tmp_path / name, contents)
        assert hcsp.is_etc_file(path), name
        assert (hcsp.read_etc(path) == expected).all(), name
    assert hcsp.read_problem(tmp_path / "u_c_lolo.0.gz").name == "u_c_lolo.0"


def test_an_instance_is_named_as_its_solution_files_name_it():
    for size in ("512x16", "2048x64", "4096x128"):
        directory = HCSP / size
        names = {hcsp.instance_name(p) for p in directory.iterdir() if hcsp.is_etc_file(p)}
        assert set(hcsp.best_known_makespans(directory)) == names, size
        first = min(names)  # reading one is enough: every name comes from the same function
        assert files.read_message(hcsp.instance_path(directory, first)).name == first
    assert hcsp.instance_name(HCSP / "2048x64" / "A.u_c_hihi.xz") == "A.u_c_hihi"
    cpr = {
        solution.instance: solution.makespan
        for solution in hcsp.solution_files(HCSP / "2048x64")
        if solution.method == "CPR"
    }
    assert cpr["A.u_c_hihi"] == 17224612.6
    assert hcsp.best_known_makespans(HCSP / "2048x64")["A.u_c_hihi"] <= cpr["A.u_c_hihi"]


def test_solution_names_take_any_method_and_none(tmp_path):
    for name in (
        "A.u_c_hihi_CPR_17224612,6.sol",
        "A.u_c_hihi_QSCHED_17224000,1.sol",
        "u_s_hilo.0_MS_95553,3.sol",
        "u_s_hilo.0_95553,4.sol",
        "notes.sol",
    ):
        (tmp_path / name).write_text("0\n")
    found = {(s.instance, s.method, s.makespan) for s in hcsp.solution_files(tmp_path)}
    assert found == {
        ("A.u_c_hihi", "CPR", 17224612.6),
        ("A.u_c_hihi", "QSCHED", 17224000.1),
        ("u_s_hilo.0", "MS", 95553.3),
        ("u_s_hilo.0", "", 95553.4),
    }


@pytest.mark.parametrize(
    ("name", "contents", "fault"),
    [
        ("short.txt", b"2048 64\n1\n2\n", "header says 2048x64 (131072 values) but the file has 2"),
        ("long.0", b"1 2 0\n1 2 3\n", "header says 1x2 (2 values) but the file has 3"),
        ("word.0", b"2 2\n1 2\nx 4\n", "value 3 (task 1, machine 0) is 'x', not a number"),
        ("nan.0", b"1 2\n1 nan\n", "value 2 (task 0, machine 1) is 'nan': an ETC must be"),
        ("minus.0", b"1 2\n-1 2\n", "value 1 (task 0, machine 0) is '-1': an ETC must be"),
        ("four.0", b"2 2 0 1\n1 2 3 4\n", "first line '2 2 0 1' is not a `T M` or `T M 0`"),
        ("float.0", b"2.5 2\n1 2 3 4\n", "first line '2.5 2' is not a `T M` or `T M 0`"),
        ("zero.0", b"0 16\n", "header '0 16' gives 0x16: both must be at least 1"),
        ("json.json", b"{not json", "is not an AllocationProblem in protobuf JSON: "),
        ("empty.json", b"", "is not an AllocationProblem in protobuf JSON: "),
        ("binary.bin", b"\xff\xfe\x00", "is not an AllocationProblem in protobuf JSON: "),
        ("notxz.xz", b"2 2\n1 2 3 4\n", "not a readable .xz file"),
    ],
)
def test_an_unreadable_file_is_named_with_what_was_expected_and_what_is_wrong(
    tmp_path, name, contents, fault
):
    path = tmp_path / name
    path.write_bytes(contents)
    with pytest.raises(ProblemError) as caught:
        files.read_message(path)
    message = str(caught.value)
    assert str(path) in message and fault in message and EXPECTED in message
    assert "or an AllocationProblem in protobuf JSON" in message


def test_a_truncated_compressed_instance_says_how_many_values_it_has(tmp_path, capsys):
    instance = HCSP / "2048x64" / "A.u_c_lolo.xz"
    cut = written(tmp_path / "cut.xz", b"\n".join(hcsp.read_bytes(instance).split(b"\n")[:1001]))
    damaged = tmp_path / "damaged.xz"
    damaged.write_bytes(instance.read_bytes()[:5000])
    for path, fault in (
        (cut, "header says 2048x64 (131072 values) but the file has 1000 values"),
        (damaged, "not a readable .xz file"),
    ):
        assert main(["solve", str(path)]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and fault in err and EXPECTED in err
        assert "Traceback" not in err and "Extra data" not in err


def _etc_oracle(header: list[str], values: list[str]) -> bool:
    """Whether these parts make a readable instance, decided apart from the reader."""
    if len(header) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in header):
        return False
    tasks, machines = int(header[0]), int(header[1])
    if tasks < 1 or machines < 1 or len(values) != tasks * machines:
        return False
    try:
        return all(math.isfinite(float(v)) and float(v) >= 0 for v in values)
    except ValueError:
        return False


header_parts = st.sampled_from(["0", "1", "2", "3", "16", "-2", "2.0", "x", "{", "1e1", "٣"])
value_parts = st.sampled_from(
    ["0", "0.00", "1.5", "7", "-0", "-1", "1e400", "nan", "inf", "abc", "1,5", "0x1", "."]
)


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    header=st.lists(header_parts, max_size=4),
    values=st.lists(value_parts, max_size=12),
    separator=st.sampled_from(["\n", " ", "\t", "\r\n"]),
    suffix=st.sampled_from([".0", ".txt", ".xz", ".gz", ".json"]),
    damaged=st.booleans(),
)
def test_any_malformed_instance_is_a_problem_error_naming_the_file(
    header, values, separator, suffix, damaged
):
    """Whatever the header and values, reading either gives the instance the parts describe
    or a `ProblemError` naming the file and what was expected: never another exception."""
    text = (" ".join(header) + "\n" + separator.join(values)).encode()
    with tempfile.TemporaryDirectory() as folder:
        path = written(Path(folder) / f"instance{suffix}", text)
        if damaged and suffix in (".xz", ".gz"):
            path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
        readable = _etc_oracle(header, values) and not (damaged and suffix in (".xz", ".gz"))
        try:
            message = files.read_message(path)
        except ProblemError as error:
            assert not readable, error
            assert str(path) in str(error) and EXPECTED in str(error)
        else:
            assert readable
            assert (len(message.tasks), len(message.machines)) == (int(header[0]), int(header[1]))

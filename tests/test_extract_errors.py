"""Bad input: a clear one-line reason naming the file, never a traceback; the batch goes on."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile

import pandas as pd
import pytest

from budgetnlp.errors import InputError
from budgetnlp.extract import extract, extract_file

from .helpers import SAMPLES


def _docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>" + "x" * 4000)
    return buffer.getvalue()


@pytest.fixture()
def bad_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "truncated.docx").write_bytes(_docx_bytes()[:300])
    (folder / "random.pdf").write_bytes(os.urandom(2048))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "unrelated.txt").write_text("会议纪要\n\n今天讨论了食堂的菜单。\n", encoding="utf-8")
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    (folder / "latin1.txt").write_bytes(bytes(range(0x80, 0x100)) * 4)
    return folder


REASONS = {
    "truncated.docx": "corrupt docx",
    "random.pdf": "corrupt PDF",
    "empty.txt": "empty file",
    "unrelated.txt": "no indicator table found",
    "picture.png": "unsupported type",
    "latin1.txt": "undecodable text",
}


def test_each_bad_file_gets_its_reason(bad_folder):
    for name, reason in REASONS.items():
        with pytest.raises(InputError) as info:
            extract_file(bad_folder / name)
        assert info.value.path.endswith(name)
        assert reason in info.value.reason, (name, info.value.reason)


def test_missing_path():
    with pytest.raises(InputError, match="no such file"):
        extract_file(SAMPLES / "does-not-exist.txt")


def test_batch_goes_on_past_bad_files(bad_folder):
    shutil.copy(SAMPLES / "004_8fe8d81b6e5c8740.txt", bad_folder / "good.txt")
    result = extract([bad_folder])
    assert result.files == len(REASONS) + 1
    assert len(result.rows) == 27
    assert sorted(os.path.basename(e.path) for e in result.errors) == sorted(REASONS)


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-c", "from budgetnlp.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_cli_bad_and_good_files(bad_folder, tmp_path):
    shutil.copy(SAMPLES / "001_7a371d8eaa1dfa6d.txt", bad_folder / "good.txt")
    out = tmp_path / "out" / "rows.csv"
    run = _cli("extract", str(bad_folder), "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    for name, reason in REASONS.items():
        line = next(line for line in run.stderr.splitlines() if name in line)
        assert reason in line
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM so Excel reads Chinese
    assert len(pd.read_csv(out, encoding="utf-8-sig")) == 48
    errors = pd.read_csv(tmp_path / "out" / "rows.errors.csv", encoding="utf-8-sig")
    assert sorted(errors["path"].map(os.path.basename)) == sorted(REASONS)


def test_cli_nothing_usable_exits_2(bad_folder, tmp_path):
    run = _cli("extract", str(bad_folder), "-o", str(tmp_path / "rows.jsonl"))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr


def test_cli_missing_path_and_usage_errors(tmp_path):
    run = _cli("extract", str(tmp_path / "nope"), "-o", str(tmp_path / "rows.csv"))
    assert run.returncode == 2 and "no such file" in run.stderr
    assert _cli("extract").returncode == 1  # usage: no input, no -o
    run = _cli("extract", str(SAMPLES), "-o", str(tmp_path / "rows.xyz"))
    assert run.returncode == 1 and "unsupported output type" in run.stderr


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_cli_output_formats_round_trip(tmp_path, suffix):
    from budgetnlp.io import read_table

    out = tmp_path / f"rows{suffix}"
    run = _cli("extract", str(SAMPLES), "-o", str(out))
    assert run.returncode == 0, run.stderr
    frame = read_table(out)
    assert len(frame) == 278
    assert "≥9090%及以上" in set(frame["value"])

"""Batch runs that never crash, never lose rows and never serve stale results (issue 12): one
test (or more) per failure seen, on local processes and a Dask cluster, with unusable files in
every batch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from budgetnlp import scoring
from budgetnlp.errors import InputError
from budgetnlp.extract import extract, extract_file
from budgetnlp.extract._limits import Limits
from budgetnlp.scoring import score

from .helpers import SAMPLES, malformed_docx
from .helpers import zip_bytes as _zip

SAMPLE_ROWS = 278
GOOD = "004_8fe8d81b6e5c8740.txt"  # 27 rows


def _main(capsys, *args) -> tuple[int, str]:
    """``budgetnlp ARGS`` in this process (a subprocess per call costs seconds of imports):
    its exit status and what it printed on stderr."""
    from budgetnlp.cli import main

    argv, sys.argv = sys.argv, ["budgetnlp", *map(str, args)]
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return code, capsys.readouterr().err


def bad_files(folder: Path) -> dict[str, str]:
    """Unusable inputs of several kinds; returns name → expected reason."""
    (folder / "random.pdf").write_bytes(os.urandom(3000))
    (folder / "malformed.docx").write_bytes(malformed_docx())
    (folder / "truncated.xlsx").write_bytes(_zip({"xl/workbook.xml": "<workbook/>" * 200})[:200])
    text = (SAMPLES / GOOD).read_text(encoding="utf-8") + "\n\n"  # not the sample's own bytes: no duplicate
    (folder / "dump.pdf").write_text(text, encoding="utf-8")  # a text dump named .pdf
    return {"random.pdf": "corrupt PDF", "malformed.docx": "corrupt docx file (XMLSyntaxError", "truncated.xlsx": "corrupt xlsx",
            "dump.pdf": "corrupt PDF"}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The samples plus unusable files."""
    folder = tmp_path_factory.mktemp("batch")
    for path in SAMPLES.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    return folder, bad_files(folder)


@pytest.fixture(scope="module")
def reference(batch, tmp_path_factory):
    """The batch scored in this one process: what every other way of running must give."""
    out = tmp_path_factory.mktemp("one")
    run = score([batch[0]], out, cache=False)
    assert run.rows == SAMPLE_ROWS
    return out


def _rows(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "scored.parquet").drop(columns=["source_path"])


def _errors(out: Path, kind: str = "error") -> dict[str, str]:
    frame = pd.read_csv(out / "errors.csv", encoding="utf-8-sig", keep_default_na=False)
    frame = frame[frame["kind"] == kind]
    return dict(zip(frame["path"].map(lambda p: Path(p).name), frame["reason"]))


# ---------------------------------------------------------------- 1. exceptions cross processes
def test_every_exception_class_round_trips_through_plain_pickle():
    """In a fresh interpreter where tblib (dask's pickling patch) is never imported: each class's
    instance comes back with its message and attributes (InputError lost its `reason` before)."""
    code = r"""
import pickle, sys, importlib, pkgutil
import budgetnlp, budgetnlp.errors as errors
for module in ("budgetnlp.review.errors", "budgetnlp.review.service"):
    try:
        importlib.import_module(module)
    except ImportError:
        pass
assert "tblib" not in sys.modules and "distributed" not in sys.modules
def classes(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from classes(sub)
found = [errors.BudgetNLPError, *classes(errors.BudgetNLPError)]
special = {"InputError": ("a/b.docx", "corrupt docx", "table 2"), "Conflict": ({"r1": {"version": 3}},)}
names = []
for cls in found:
    error = cls(*special.get(cls.__name__, ("something went wrong",)))
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls and str(back) == str(error) and back.__dict__ == error.__dict__, cls
    names.append(cls.__name__)
print(" ".join(sorted(names)))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    names = set(run.stdout.split())
    assert {"BudgetNLPError", "InputError", "LimitExceeded", "ModelError", "ConfigError"} <= names


def test_worker_boundary_turns_any_exception_into_a_picklable_error(tmp_path, monkeypatch):
    """A reader raising something that holds an unpicklable object (lxml's error log did): the
    unit's result carries a plain InputError naming the file, which pickles."""
    import pickle
    import threading

    class Nasty(Exception):
        def __init__(self):
            super().__init__("parser exploded")
            self.log = threading.Lock()  # cannot be pickled

    def explode(*args, **kwargs):
        raise Nasty()

    monkeypatch.setattr(scoring, "_read_unit", explode)
    doc = tmp_path / "a.txt"
    shutil.copy(SAMPLES / GOOD, doc)
    result = scoring.score_unit(scoring.Unit(str(doc), False), "default", None)
    back = pickle.loads(pickle.dumps(result))
    assert back.rows is None and back.error.path == str(doc) and "Nasty: parser exploded" in back.error.reason


# ---------------------------------------------------------------- 1–2. local workers
def test_two_workers_finish_with_bad_files_and_match_one_process(batch, reference, tmp_path):
    folder, reasons = batch
    assert score([folder], tmp_path / "two", cache=False, workers=2).rows == SAMPLE_ROWS
    pd.testing.assert_frame_equal(_rows(reference), _rows(tmp_path / "two"))
    for out in (reference, tmp_path / "two"):
        got = _errors(out)
        assert set(got) == set(reasons)
        for name, reason in reasons.items():
            assert reason in got[name], (name, got[name])
        assert not any(p.name.startswith(".budgetnlp-partial") for p in out.iterdir())


def test_a_killed_worker_loses_only_the_input_that_kills_it(batch, tmp_path, monkeypatch):
    """A worker dying (SIGKILL on one input) breaks the pool: the other inputs in flight are
    retried and scored; only the killer becomes an error line."""
    folder = tmp_path / "in"
    shutil.copytree(batch[0], folder)
    shutil.copy(SAMPLES / GOOD, folder / "killer.txt")
    (folder / "killer.txt").write_text((folder / "killer.txt").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    real = scoring._read_unit

    def deadly(unit, data, limits):
        if unit.path.endswith("killer.txt"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(unit, data, limits)

    monkeypatch.setattr(scoring, "_read_unit", deadly)  # fork: the workers inherit it
    run = score([folder], tmp_path / "out", cache=False, workers=2)
    assert run.rows == SAMPLE_ROWS and run.documents == 3
    got = _errors(tmp_path / "out")
    assert set(got) == set(batch[1]) | {"killer.txt"} and "worker process died" in got["killer.txt"]


def test_a_worker_killed_while_scoring_loses_only_that_input(batch, tmp_path, monkeypatch):
    """The same in pass 2 of a run (scoring, after every input was extracted and counted): the
    killer's pool is replaced, the others are scored with the run's counts, the killer is its line."""
    folder = tmp_path / "in"
    shutil.copytree(batch[0], folder)
    (folder / "killer.txt").write_text((SAMPLES / GOOD).read_text(encoding="utf-8") + "\n", encoding="utf-8")
    real = scoring.to_table

    def deadly(scored, extras=()):
        if len(scored) and str(scored["source_path"].iloc[0]).endswith("killer.txt"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(scored, extras)

    monkeypatch.setattr(scoring, "to_table", deadly)
    run = score([folder], tmp_path / "out", cache=False, workers=2)
    assert run.rows == SAMPLE_ROWS and run.documents == 3
    got = _errors(tmp_path / "out")
    assert set(got) == set(batch[1]) | {"killer.txt"} and "worker process died" in got["killer.txt"]


def test_a_worker_dying_while_its_pool_closes_does_not_hang_the_exit():
    """A worker killed while its pool shuts down may take the task queue's lock with it: its
    sibling then blocks for good, and the pool's thread joins it at interpreter exit, so the
    run never ended (seen once in fault_injection: pass 1's pool closes as pass 2 starts).
    ``_close_pool`` terminates a worker still there after the grace period."""
    code = r"""
import os, signal, threading, time, multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from budgetnlp.scoring import _close_pool
for victim in (0, 1):
    pool = ProcessPoolExecutor(2, mp_context=mp.get_context("fork"))
    assert list(pool.map(abs, range(4))) == [0, 1, 2, 3]
    time.sleep(0.3)
    threading.Timer(0.0005, os.kill, (sorted(pool._processes)[victim], signal.SIGKILL)).start()
    _close_pool(pool, grace_s=2)
print("exited")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "exited" in run.stdout, run.stderr


# ---------------------------------------------------------------- 3. Dask
@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("distributed", reason="the [dist] extra is needed for --scheduler")
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


def test_dask_with_bad_files_matches_one_process(batch, reference, cluster, tmp_path):
    folder, reasons = batch
    run = score([folder], tmp_path / "dask", cache=False, scheduler=cluster.scheduler_address)
    assert run.rows == SAMPLE_ROWS
    pd.testing.assert_frame_equal(_rows(reference), _rows(tmp_path / "dask"))
    assert set(_errors(tmp_path / "dask")) == set(reasons)


def test_dask_counts_repetition_over_the_run_as_local_processes_do(batch, cluster, tmp_path):
    from .test_scoring import PASTED, _pasted_documents

    folder = tmp_path / "in"
    shutil.copytree(batch[0], folder)
    _pasted_documents(folder, 0, 3)
    score([folder], tmp_path / "local", cache=False, workers=2)
    score([folder], tmp_path / "dask", cache=False, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(_rows(tmp_path / "local"), _rows(tmp_path / "dask"))
    pasted = _rows(tmp_path / "dask").query("name == @PASTED[0]")
    assert len(pasted) == 3 and pasted["reasons"].str.contains("出现在3个项目中（3份文件）").all()
    assert set(_errors(tmp_path / "dask")) == set(batch[1])


def test_dask_failed_futures_are_that_inputs_error(batch, cluster, tmp_path):
    """Even an exception that escapes the worker boundary (here: the task function itself fails)
    is that input's line, not a crash of the run."""
    from distributed import Client

    def broken(unit):
        raise RuntimeError(f"lost {Path(unit.path).name}")

    with Client(cluster.scheduler_address) as client:
        results = list(scoring._run_dask(scoring._units([batch[0]]), broken, client))
    assert len(results) == len(list(batch[0].iterdir()))
    assert all(r.error is not None and "RuntimeError: lost" in r.error.reason for r in results)


# ---------------------------------------------------------------- 4. unreadable files, extract
def test_extract_keeps_the_good_rows_past_an_unreadable_file(tmp_path, capsys, monkeypatch):
    """Permission denied on one file → its line, and the other files' rows are written. Root
    reads any file whatever its mode, so there the refusal is the operating system's error
    raised where the file is read."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / GOOD, folder / "good.txt")
    secret = folder / "secret.txt"
    shutil.copy(SAMPLES / "001_7a371d8eaa1dfa6d.txt", secret)
    os.chmod(secret, 0)
    if os.geteuid() == 0:
        read_bytes = Path.read_bytes

        def refuse(path):
            if path.name == "secret.txt":
                raise PermissionError(13, "Permission denied", str(path))
            return read_bytes(path)

        monkeypatch.setattr(Path, "read_bytes", refuse)
    code, stderr = _main(capsys, "extract", folder, "-o", tmp_path / "out" / "rows.csv")
    assert code == 0, stderr
    assert "internal error" not in stderr and "secret.txt: cannot read the file (Permission denied)" in stderr
    monkeypatch.undo()
    assert len(pd.read_csv(tmp_path / "out" / "rows.csv", encoding="utf-8-sig")) == 27
    errors = pd.read_csv(tmp_path / "out" / "rows.errors.csv", encoding="utf-8-sig")
    assert errors["path"].map(lambda p: Path(p).name).tolist() == ["secret.txt"]


# ---------------------------------------------------------------- 5. stale results
def test_renamed_text_dump_is_not_served_from_the_cache(tmp_path):
    cache = tmp_path / "cache"
    (tmp_path / "a").mkdir()
    shutil.copy(SAMPLES / GOOD, tmp_path / "a" / "doc.txt")
    assert score([tmp_path / "a"], tmp_path / "out1", cache_dir=cache).rows == 27
    (tmp_path / "b").mkdir()
    shutil.copy(SAMPLES / GOOD, tmp_path / "b" / "doc.pdf")
    run = score([tmp_path / "b"], tmp_path / "out2", cache_dir=cache)
    assert run.rows == 0 and run.cached == 0 and "corrupt PDF" in run.errors[0].reason


def test_code_fingerprint_follows_the_scoring_code_and_not_the_reports(tmp_path):
    package = Path(scoring.__file__).parent
    copy = tmp_path / "budgetnlp"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    base = scoring._fingerprint(copy)
    assert base == scoring._fingerprint(copy)
    report = next(p for p in (copy / "report.py", copy / "report" / "__init__.py") if p.exists())
    report.write_text(report.read_text(encoding="utf-8") + "\n# a report change\n", encoding="utf-8")
    assert scoring._fingerprint(copy) == base
    for changed in ("rules.py", "normalize.py", "extract/_indicators.py", "resources/user_dict.txt"):
        target = copy / changed
        original = target.read_bytes()
        target.write_bytes(original + b"\n# changed\n")
        assert scoring._fingerprint(copy) != base, changed
        target.write_bytes(original)
    assert scoring._fingerprint(copy) == base


def test_new_code_no_cache_and_cache_clear(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / GOOD, folder / "doc.txt")
    assert score([folder], tmp_path / "o1", cache_dir=cache).cached == 0
    assert score([folder], tmp_path / "o2", cache_dir=cache).cached == 1
    assert score([folder], tmp_path / "o3", cache_dir=cache, cache=False).cached == 0
    monkeypatch.setattr(scoring, "code_fingerprint", lambda: "0123456789abcdef")  # "the rules changed"
    assert score([folder], tmp_path / "o4", cache_dir=cache).cached == 0
    keep = cache / "notes.txt"
    keep.write_text("not a cache entry", encoding="utf-8")
    code, stderr = _main(capsys, "cache", "clear", "--cache-dir", cache)
    assert code == 0 and "removed 2 cached documents" in stderr, stderr
    assert keep.is_file() and not list(cache.rglob("*.parquet"))
    monkeypatch.undo()
    assert score([folder], tmp_path / "o5", cache_dir=cache).cached == 0


# ---------------------------------------------------------------- 6. row tables without row_id
def test_row_tables_without_row_id_get_stable_distinct_ids(tmp_path):
    table = tmp_path / "rows.csv"
    pd.DataFrame({"name": ["满意度", "满意度", "享受资金人数"], "value": ["≥90%", "≥90%", "=78人"]}).to_csv(
        table, index=False, encoding="utf-8-sig")
    partial = tmp_path / "partial.csv"
    pd.DataFrame({"row_id": ["given-1", ""], "name": ["满意度", "满意度"], "value": ["≥90%", "≥90%"]}).to_csv(
        partial, index=False, encoding="utf-8-sig")
    score([table, partial], tmp_path / "a", cache=False)
    score([table, partial], tmp_path / "b", cache=False)
    first, again = (pd.read_parquet(tmp_path / name / "scored.parquet") for name in ("a", "b"))
    ids = first["row_id"]
    assert len(first) == 5 and ids.notna().all() and ids.is_unique
    assert ids.tolist() == again["row_id"].tolist()
    assert ids.iloc[3] == "given-1"
    assert first["doc_id"].notna().all() and first["doc_id"].iloc[0] != first["doc_id"].iloc[3]


def test_review_import_keeps_every_row_of_such_a_table(tmp_path, capsys):
    pytest.importorskip("sqlalchemy")
    table = tmp_path / "rows.csv"
    pd.DataFrame({"name": ["满意度", "满意度", "享受资金人数"], "value": ["≥90%", "≥90%", "=78人"]}).to_csv(
        table, index=False, encoding="utf-8-sig")
    assert score([table], tmp_path / "run", cache=False).rows == 3
    db = f"sqlite:///{tmp_path / 'review.db'}"
    code, stderr = _main(capsys, "review", "import", tmp_path / "run", "--db", db)
    assert code == 0 and ": 3 new, 0 updated, 0 unchanged" in stderr, stderr  # before: 1 new, 2 unchanged (NA ids)  # before: 1 new, 2 unchanged (NA ids)


# ---------------------------------------------------------------- 7. duplicate documents
def test_the_same_document_twice_is_scored_and_reported_once(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / GOOD, folder / "a.txt")
    shutil.copy(SAMPLES / GOOD, folder / "b_copy.txt")
    for workers in (1, 2):
        run = score([folder], tmp_path / f"out{workers}", cache=False, workers=workers)
        rows = pd.read_parquet(tmp_path / f"out{workers}" / "scored.parquet")
        assert run.rows == 27 and rows["row_id"].is_unique and run.documents == 1
        dup = _errors(tmp_path / f"out{workers}", "duplicate")
        assert list(dup) == ["b_copy.txt"] and "same content as" in dup["b_copy.txt"] and "a.txt" in dup["b_copy.txt"]
        summary = json.loads((tmp_path / f"out{workers}" / "summary.json").read_text(encoding="utf-8"))
        assert len(summary["duplicates"]) == 1
    result = extract([folder])
    assert len(result.rows) == 27 and [Path(d.path).name for d in result.duplicates] == ["b_copy.txt"]


# ---------------------------------------------------------------- 8. resource limits
def _bomb_docx(unpacked_mb: int) -> bytes:
    body = "<w:p><w:r><w:t>x</w:t></w:r></w:p>" * (unpacked_mb * 1024 * 1024 // 34)
    return _zip({"[Content_Types].xml": "<Types/>", "word/document.xml": f"<w:document><w:body>{body}</w:body></w:document>"})


def test_zip_members_over_the_limit_are_refused_before_unpacking(tmp_path):
    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(_bomb_docx(40))
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(InputError, match=r"word/document.xml unpacks to 40 MB, over the 32 MB limit"):
        extract_file(bomb)
    with pytest.raises(InputError, match=r"over the 4 MB limit"):
        extract_file(bomb, Limits(member_mb=64, document_mb=4))
    small = tmp_path / "small.docx"
    small.write_bytes(_bomb_docx(2))
    with pytest.raises(InputError, match=r"unpacks to 2 MB, over the 1 MB limit"):
        extract_file(small, Limits(member_mb=1))
    with pytest.raises(InputError) as info:  # under the limits: on to the docx reader (this zip is no real docx)
        extract_file(small)
    assert "corrupt docx" in info.value.reason and "limit" not in info.value.reason


@pytest.mark.parametrize("levels", [80, 260])
def test_deep_html_nesting_is_a_clear_error(tmp_path, levels):
    page = tmp_path / "deep.html"
    page.write_text("<html><body>" + "<table><tr><td>" * levels + "三级指标" + "</td></tr></table>" * levels + "</body></html>",
                    encoding="utf-8")
    limit = 100 if levels == 80 else 200
    with pytest.raises(InputError, match=f"HTML nested .* levels deep, over the {limit} level limit"):
        extract_file(page, Limits(html_depth=limit))
    if levels == 80:  # 80 tables ≈ 242 element levels: under 255 it is read as usual
        with pytest.raises(InputError, match="no indicator table"):
            extract_file(page, Limits(html_depth=255))


def test_cells_per_table_limit(tmp_path):
    assert len(extract_file(SAMPLES / GOOD)) == 27
    with pytest.raises(InputError, match=r"table \d+ has [\d,]+ cells, over the 50 cell limit"):
        extract_file(SAMPLES / GOOD, Limits(table_cells=50))


def test_limits_are_cli_options(tmp_path, capsys):
    bomb = tmp_path / "in" / "bomb.docx"
    bomb.parent.mkdir()
    bomb.write_bytes(_bomb_docx(3))
    shutil.copy(SAMPLES / GOOD, bomb.parent / "good.txt")
    code, stderr = _main(capsys, "extract", bomb.parent, "-o", tmp_path / "rows.csv", "--max-member-mb", "2")
    assert code == 0 and "bomb.docx: zip member word/document.xml unpacks to 3 MB, over the 2 MB limit" in stderr, stderr
    code, stderr = _main(capsys, "score", bomb.parent, "-o", tmp_path / "out", "--no-cache", "--max-html-depth", "300")
    assert code == 1 and "at most 255" in stderr and "Traceback" not in stderr


# ---------------------------------------------------------------- 9. user mistakes: one line each
@pytest.mark.parametrize("where", ["file", "proc", "sys"])
def test_unwritable_out_is_one_line_before_any_work(tmp_path, where, capsys):
    target = {"file": tmp_path / "taken", "proc": Path("/proc/budgetnlp-test/out"), "sys": Path("/sys/budgetnlp-test")}[where]
    if where == "file":
        target.write_text("x", encoding="utf-8")
    for command in (["score", SAMPLES, "-o", target], ["extract", SAMPLES, "-o", target / "rows.csv"]):
        code, stderr = _main(capsys, *command)
        lines = stderr.strip().splitlines()
        assert code == 1 and len(lines) == 1, stderr
        assert "internal error" not in stderr and str(target) in lines[0], stderr
        assert "score:" not in stderr and "extract:" not in stderr  # no document was read


def test_scheduler_mistakes_are_one_line(tmp_path, capsys):
    code, stderr = _main(capsys, "score", SAMPLES, "-o", tmp_path / "out", "--scheduler", "notaurl")
    assert code == 1 and "not a scheduler address" in stderr and "internal error" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    pytest.importorskip("distributed")
    from budgetnlp.errors import BudgetNLPError

    with pytest.raises(BudgetNLPError, match="no Dask scheduler answers there"):
        scoring.connect("tcp://127.0.0.1:9", timeout_s=1)


def test_repetition_mistake_is_one_line(tmp_path, capsys):
    code, stderr = _main(capsys, "score", SAMPLES, "-o", tmp_path / "out", "--repetition", "everything")
    assert code == 1 and stderr.strip() == "budgetnlp: --repetition everything: choose run or document", stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_failed_run_leaves_the_previous_outputs(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / GOOD, folder / "doc.txt")
    out = tmp_path / "out"
    score([folder], out, cache=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    shutil.copy(SAMPLES / "001_7a371d8eaa1dfa6d.txt", folder / "more.txt")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(scoring, "_write_reports", fail)
    with pytest.raises(RuntimeError):
        score([folder], out, cache=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# ---------------------------------------------------------------- 10. small truths
def test_summary_counts_value_issues(tmp_path):
    score([SAMPLES], tmp_path / "out", cache=False)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    issues = pd.read_parquet(tmp_path / "out" / "scored.parquet")["value_issue"]
    assert summary["value_issues"] and sum(v for k, v in summary["value_issues"].items() if k != "none") == int(
        (issues.fillna("") != "none").sum()) > 0


def test_no_version_warning_for_libraries_a_sklearn_model_does_not_use(tmp_path):
    from budgetnlp.models import SHIPPED_MODELS
    from budgetnlp.training import load_with_warnings

    model = tmp_path / "m"
    shutil.copytree(SHIPPED_MODELS / "default", model)
    meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
    said = []
    meta["versions"].update(transformers="0.0.1", torch="0.0.1")
    (model / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    load_with_warnings(str(model), say=said.append)
    assert said == []
    meta["versions"]["scikit-learn"] = "0.0.1"
    (model / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    load_with_warnings(str(model), say=said.append)
    assert len(said) == 1 and "scikit-learn 0.0.1" in said[0] and "transformers" not in said[0]

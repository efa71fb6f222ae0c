"""Writing results never destroys what a path is: files replaced atomically at the end, links
written through, pipes and devices streamed to, the input list refused; rows in input order."""

from __future__ import annotations

import csv
import io
import os
import stat
import threading
from pathlib import Path

import pytest

from app.core.errors import Failure, Kind
from app.core.export import CsvFormat, write_csv
from app.core.output import OutputError, open_output
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.core.writer import MissingRows, ResultWriter


def results(count: int) -> list[Result]:
    return [Result.of(i, i + 1, f"https://h.example/{i}", Outcome.OK, status=200)
            for i in range(count)]


def test_a_regular_file_keeps_its_old_content_until_commit(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    path.chmod(0o640)
    with open_output(path) as out:
        out.stream.write("new\n")
        assert path.read_text() == "old\n"  # nothing changes before the commit
        out.commit()
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_leaving_without_commit_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), open_output(path) as out:
        out.stream.write("half")
        raise RuntimeError("the export broke")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_symlink_chain_is_written_through(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    first = tmp_path / "a.csv"
    second = tmp_path / "b.csv"
    second.symlink_to(real)
    first.symlink_to(second)
    write_csv(first, results(2), Settings())
    assert first.is_symlink() and second.is_symlink()
    assert len(list(csv.DictReader(io.StringIO(real.read_text())))) == 2


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "target.csv")
    write_csv(link, results(1), Settings())
    assert link.is_symlink() and (tmp_path / "target.csv").is_file()


def test_a_device_is_streamed_to_and_stays_a_device():
    write_csv("/dev/null", results(3), Settings())
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_device_is_an_error_and_stays_a_device():
    with pytest.raises(OSError):
        write_csv("/dev/full", results(50_000), Settings())
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_fifo_is_streamed_to(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_csv(fifo, results(3), Settings())
    reader.join(10)
    assert len(list(csv.DictReader(io.StringIO(received[0])))) == 3
    assert fifo.is_fifo()


def test_an_input_file_is_refused_even_through_a_link(tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("https://a.example/\n")
    link = tmp_path / "link.txt"
    link.symlink_to(urls)
    with pytest.raises(OutputError, match="URL list being fetched"):
        open_output(link, protect=[urls])
    assert urls.read_text() == "https://a.example/\n"


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: None, "does not exist"),
])
def test_unwritable_paths_are_refused_before_any_work(tmp_path, make, message):
    path = tmp_path / "x.csv"
    make(path)
    target = path if path.exists() else tmp_path / "missing" / "x.csv"
    with pytest.raises(OutputError, match=message):
        open_output(target)


def test_the_writer_puts_rows_in_input_order_whatever_order_they_finish(tmp_path):
    path = tmp_path / "out.csv"
    rows = results(500)
    order = rows[::-1][:250] + rows[:250]  # the second half first, backwards
    with open_output(path) as out:
        writer = ResultWriter(out, CsvFormat(Settings()), len(rows))
        writer.start()
        for result in order:
            writer.add(result)
        writer.finish()
    read = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [int(r["line"]) for r in read] == list(range(1, 501))
    assert writer.written == 500 and writer.error is None


def test_rows_that_never_arrived_leave_the_old_file_alone(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("the good export of yesterday\n")
    errors: list[BaseException] = []
    rows = results(10)
    with open_output(path) as out:
        writer = ResultWriter(out, CsvFormat(Settings()), len(rows), on_error=errors.append)
        writer.start()
        for result in rows[:4] + rows[5:]:  # row 4 never comes: a bug upstream
            writer.add(result)
        writer.finish()
    assert isinstance(writer.error, MissingRows) and errors == [writer.error]
    assert "1 of 10 rows never reached the writer" in str(writer.error)
    assert path.read_text() == "the good export of yesterday\n"
    assert not list(tmp_path.glob(".*.part"))


def test_a_write_error_is_kept_and_reported_once(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    errors: list[BaseException] = []
    with open_output("/dev/full") as out:
        writer = ResultWriter(out, CsvFormat(Settings()), 20_000, on_error=errors.append)
        writer.start()
        for result in results(20_000):
            writer.add(result)
        writer.finish()
    assert len(errors) == 1 and isinstance(writer.error, OSError)


def test_server_text_with_any_byte_exports(tmp_path):
    weird = Result.of(0, 1, "https://h.example/", Outcome.HTTP_ERROR, status=404,
                      reason="Nicht gefunden \udce4", server="x\x1b]0;t\x07",
                      failure=Failure.plain(Kind.HTTP_4XX, "HTTP 404 Nicht gefunden \udce4"))
    path = tmp_path / "out.csv"
    write_csv(path, [weird], Settings())
    (row,) = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    assert "\x1b" not in row["server"] and "\udce4" not in Path(path).read_text()

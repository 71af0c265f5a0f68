"""The JSON Lines export: its format, and verification from the file alone."""

from __future__ import annotations

import io
import json

import pytest
from audit_helpers import fill, read_rows, replace_log

from govkit.exceptions import InputError
from govkit.store import Store, generate_signing_key, verify_jsonl

EVENT_KEYS = [
    "seq", "format", "ts", "actor", "type", "subject", "payload", "payload_digest",
    "prev_hash", "hash",
]  # fmt: skip


def export(db_url: str, path) -> list[str]:
    with Store.open(db_url, read_only=True) as store:
        out = io.StringIO()
        count = store.export_jsonl(out)
    path.write_text(out.getvalue(), encoding="utf-8")
    lines = out.getvalue().splitlines()
    assert count == len(lines) - 1
    return lines


@pytest.fixture
def exported(tmp_path):
    """An export of a 30-event SQLite log: (path, lines, checkpoint, key)."""
    db_url = f"sqlite:///{tmp_path / 'g.db'}"
    key = generate_signing_key()
    with Store.open(db_url) as store:
        fill(store, 30)
        checkpoint = store.checkpoint(key)
    path = tmp_path / "log.jsonl"
    return path, export(db_url, path), checkpoint, key


def test_export_format_and_offline_verification(db_url, tmp_path):
    with Store.open(db_url) as store:
        fill(store, 12)
        database_id = store.database_id
    path = tmp_path / "log.jsonl"
    lines = export(db_url, path)
    header = json.loads(lines[0])
    rows = read_rows(db_url)
    assert header["type"] == "govkit.audit.export" and header["version"] == 1
    assert header["audit_format"] == 1 and header["database_id"] == database_id
    assert header["head"] == {"sequence": 12, "hash": rows[-1].hash}
    events = [json.loads(line) for line in lines[1:]]
    assert [list(e) for e in events] == [EVENT_KEYS] * 12
    assert [tuple(e.values()) for e in events] == [tuple(r) for r in rows]  # exact columns
    report = verify_jsonl(path)
    assert report.ok and (report.events, report.head_sequence) == (12, 12)
    assert report.head_hash == rows[-1].hash


def rewrite(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def edit_event(lines, k, **changes):
    event = json.loads(lines[k])
    event.update(changes)
    lines[k] = json.dumps(event, ensure_ascii=False)


@pytest.mark.parametrize(
    ("tamper", "bad", "fault"),
    [
        (lambda ls: edit_event(ls, 7, payload='{"i":6,"text":"forged"}'), 7, "payload-changed"),
        (lambda ls: edit_event(ls, 9, actor="mallory"), 9, "edited"),
        (lambda ls: ls.pop(4), 4, "missing"),
        (lambda ls: ls.__setitem__(slice(5, 7), [ls[6], ls[5]]), 5, "missing"),
        (lambda ls: ls.__setitem__(12, "{not json"), 12, "edited"),
        (lambda ls: ls.insert(3, ls[3]), 3, "fork"),
    ],
)
def test_tampered_export_lines_are_found(exported, tamper, bad, fault):
    path, lines, _, _ = exported
    tamper(lines)
    rewrite(path, lines)
    report = verify_jsonl(path)
    assert (report.ok, report.first_bad_sequence, report.fault) == (False, bad, fault), (
        report.problem
    )


def test_swapped_and_renumbered_lines_are_out_of_order(exported):
    path, lines, _, _ = exported
    fifth, sixth = json.loads(lines[5]), json.loads(lines[6])
    fifth["seq"], sixth["seq"] = 6, 5
    lines[5], lines[6] = json.dumps(sixth), json.dumps(fifth)
    rewrite(path, lines)
    report = verify_jsonl(path)
    assert (report.first_bad_sequence, report.fault) == (5, "reordered")


def test_a_malformed_line_is_named(exported):
    path, lines, _, _ = exported
    lines[12] = '{"seq": 12}'
    rewrite(path, lines)
    report = verify_jsonl(path)
    assert report.first_bad_sequence == 12
    assert f"line 13 of {path} is not a valid audit event" in report.problem


def test_truncated_export_needs_the_header_or_a_checkpoint(exported):
    path, lines, checkpoint, key = exported
    rewrite(path, lines[:-5])
    report = verify_jsonl(path)
    assert (report.first_bad_sequence, report.fault) == (26, "missing")  # the header's head
    header = json.loads(lines[0])
    header["head"] = {"sequence": 25, "hash": json.loads(lines[25])["hash"]}
    rewrite(path, [json.dumps(header)] + lines[1:-5])
    assert verify_jsonl(path).ok  # header edited too: undetectable without a checkpoint
    report = verify_jsonl(path, checkpoints=[checkpoint], public_key=key.public_key)
    assert (report.ok, report.first_bad_sequence, report.fault) == (False, 26, "truncated")


def test_export_of_a_tampered_database_reports_the_same_fault(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(db_url) as store:
        fill(store, 10)
    rows = read_rows(db_url)
    rows[3] = rows[3]._replace(event_type="forged.type")
    replace_log(db_url, rows, head=(10, rows[-1].hash))
    path = tmp_path / "log.jsonl"
    export(db_url, path)
    with Store.open(db_url, read_only=True) as store:
        in_db = store.verify_chain()
    offline = verify_jsonl(path)
    assert (
        (offline.first_bad_sequence, offline.fault, offline.problem)
        == (
            in_db.first_bad_sequence,
            in_db.fault,
            in_db.problem,
        )
        == (4, "edited", offline.problem)
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the first line is not JSON"),
        ('{"type": "something else"}\n', 'header with "type": "govkit.audit.export"'),
        ('{"type": "govkit.audit.export", "version": 9}\n', "export version 9 is not supported"),
        ('{"type": "govkit.audit.export", "version": 1}\n', "must hold a 'sequence'"),
    ],
)
def test_files_that_are_not_exports(tmp_path, content, expected):
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match="not a govkit audit export") as caught:
        verify_jsonl(path)
    assert expected in str(caught.value)
    with pytest.raises(InputError, match="does not exist"):
        verify_jsonl(tmp_path / "missing.jsonl")

"""CONTRACT "Customer data import": upsert by order_id, E.164 phones, bad rows by line."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from callcenter.models import Customer
from callcenter.people.customer_import import BadFile, import_customers
from manage.cli import main

HEADER = ("order_id,name,phone,email,product,application_status,amount_due,due_date,"
          "va_bank,va_number,timezone\n")


def _import(session, body: str):
    return import_customers(session, io.StringIO(HEADER + body))


def test_phones_in_every_common_form_are_stored_as_e164(session):
    report = _import(session, (
        "A1,Budi,0812-3456-7890,,Cankul Tunai,approved,100,2026-12-01,BCA,123,\n"
        "A2,Siti,6281311112222,,,,,,,,\n"
        "A3,Agus,+6285722223333,,,,,,,,Asia/Makassar\n"))
    assert report.ok and report.inserted == 3
    phones = session.scalars(select(Customer.phone).order_by(Customer.order_id)).all()
    assert phones == ["+6281234567890", "+6281311112222", "+6285722223333"]
    agus = session.scalars(select(Customer).where(Customer.order_id == "A3")).one()
    assert agus.timezone == "Asia/Makassar"


def test_bad_rows_are_reported_by_line_and_good_rows_kept(session):
    report = _import(session, (
        "A1,Budi,0812-3456-7890,,,,,,,,\n"
        "A2,Siti,12345,,,,,,,,\n"
        "A3,Agus,081311112222,,,,12abc,,,,\n"
        "A4,Dewi,081311113333,,,,,2026-13-01,,,\n"
        ",Nobody,081311114444,,,,,,,,\n"
        "A6,Tono,081311115555,,,,,,,,Mars/Olympus\n"
        "A7,Rina,081311116666,,,,,,,,\n"))
    assert [(e.line, e.reason.split(" ")[0]) for e in report.errors] == [
        (3, "phone"), (4, "amount_due"), (5, "due_date"), (6, "order_id"), (7, "timezone")]
    assert report.inserted == 2
    assert set(session.scalars(select(Customer.order_id))) == {"A1", "A7"}


def test_reimport_updates_instead_of_duplicating(session):
    _import(session, "A1,Budi,0812-3456-7890,,,,100,,,,\n")
    report = _import(session, "A1,Budi Santoso,0812-3456-7890,,,,250000,,,,\n")
    assert (report.inserted, report.updated) == (0, 1)
    budi = session.scalars(select(Customer)).one()
    assert budi.name == "Budi Santoso" and budi.amount_due == 250_000


def test_missing_columns_refuse_the_whole_file(session):
    with pytest.raises(BadFile, match=r"missing columns: .*va_number"):
        import_customers(session, io.StringIO("order_id,name,phone\nA1,B,0812\n"))


def test_cli_exits_non_zero_and_names_the_line(tmp_path, env, session):
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + "A1,Budi,0812-3456-7890,,,,,,,,\nA2,Siti,999,,,,,,,,\n",
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["import-customers", str(path)], env=env)
    assert result.exit_code == 1
    assert "line 3: phone" in result.output
    assert "imported 1 new" in result.output
    assert session.scalars(select(Customer.order_id)).all() == ["A1"]


def test_cli_imports_the_shipped_demo_file(env, session):
    from manage.demo import DEMO_CSV

    result = CliRunner().invoke(main, ["import-customers", str(DEMO_CSV)], env=env)
    assert result.exit_code == 0, result.output
    assert len(session.scalars(select(Customer)).all()) == 5

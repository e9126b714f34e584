"""CSV and XLSX files that a spreadsheet opens without running anything in them.

Text from the remote systems (an employee's name, a payroll ID) ends up in files that
people open in Excel or LibreOffice. A cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is read there as a formula (``=HYPERLINK(...)``, DDE payloads):
CSV/formula injection. The rule, per the OWASP CSV injection guidance, is decided by the
value's Python type, never by how its text looks:

- numbers (``int``, ``float``, ``Decimal``; not ``bool``) stay numbers: ``-12.5`` is
  written as the number -12.5;
- text that starts with one of those characters gets a leading single quote in CSV
  (``'=HYPERLINK(...)``, ``'+1``, ``'-12.5`` when the -12.5 came as text), which
  spreadsheets take as "this cell is text";
- in XLSX every text is written with ``write_string`` (and the workbook refuses to turn
  strings into formulas, numbers or links): the cell's type already says "text", so the
  text is kept exactly as it was, and no ``<f>`` (formula) element is ever written.

Odoo's own export of connector records (*Export* in a list view,
``odoo/addons/web/controllers/export.py`` in Odoo 18): its CSV export prefixes a quote to
strings starting with ``=``, ``-`` or ``+`` only (not ``@``, tab or carriage return); its
XLSX export writes cells with xlsxwriter's ``worksheet.write()`` on a workbook created
with the default ``strings_to_formulas=True``, so a text starting with ``=`` becomes a
formula there. The files the connector writes itself go through this module instead.
"""

import csv
import io
from decimal import Decimal

# OWASP: the characters a spreadsheet reads as the start of a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def is_number(value):
    """Whether ``value`` is written as a number (``bool`` is not one)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def cell_value(value):
    """The value one cell holds: a number, or text ("" for None/False).

    Text that a spreadsheet would read as a formula gets a leading single quote; this
    is what a CSV cell holds. Numbers are returned unchanged.
    """
    if is_number(value):
        return value
    if value is None or value is False:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_bytes(header, rows, encoding="utf-8"):
    """A CSV file (bytes) of ``header`` and ``rows``, every cell through ``cell_value``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in [header, *rows]:
        writer.writerow([cell_value(value) for value in row])
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(header, rows, sheet_name="Sheet1"):
    """An XLSX file (bytes) of ``header`` and ``rows``; text is never a formula."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            # Belt and braces: write_string/write_number below never guess, and these
            # keep any later write() from guessing either.
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet(sheet_name[:31])
    for row_index, row in enumerate([header, *rows]):
        for col_index, value in enumerate(row):
            if is_number(value):
                sheet.write_number(row_index, col_index, float(value))
            elif value is None or value is False:
                sheet.write_blank(row_index, col_index, None)
            else:
                text = value if isinstance(value, str) else str(value)
                sheet.write_string(row_index, col_index, text)
    workbook.close()
    return buffer.getvalue()

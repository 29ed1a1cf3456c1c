"""The invoice as a PDF (fpdf2): seller, customer, number and dates, the order's lines, subtotal,
tax and total. The built-in PDF fonts cover Latin-1 only, so other characters are transliterated
(accents are kept where Latin-1 has them; anything else becomes its closest ASCII or "?")."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from fpdf import FPDF

from lib.validation import country_name


def _latin1(text: object) -> str:
    value = str(text if text is not None else "")
    if all(ord(c) < 256 for c in value):
        return value
    out = []
    for char in value:
        if ord(char) < 256:
            out.append(char)
        else:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(plain or "?")
    return "".join(out)


def _money(value: object, currency: str) -> str:
    return f"{Decimal(value or 0):,.2f} {currency}"


def _number(value: object) -> str:
    text = f"{Decimal(value or 0):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _address(invoice: dict) -> list[str]:
    prefix = "company" if invoice.get("company_name") else "contact"
    name = invoice.get("company_name") or invoice.get("contact_name") or invoice.get("contact_email") or "Customer"
    lines = [name]
    if invoice.get("company_name") and invoice.get("contact_name"):
        lines.append(f"Attn. {invoice['contact_name']}")
    place = " ".join(p for p in (invoice.get(f"{prefix}_postal_code"), invoice.get(f"{prefix}_city")) if p)
    lines += [p for p in (invoice.get(f"{prefix}_address"), place, country_name(invoice.get(f"{prefix}_country"))) if p]
    return lines


def render(invoice: dict) -> bytes:
    """The PDF bytes of an invoice as returned by `lib.orders.invoice`."""
    currency = invoice["currency"]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_title(_latin1(f"Invoice INV-{invoice['number']}"))
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(invoice["seller"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 8, _latin1(f"Invoice INV-{invoice['number']}" + ("  (VOID)" if invoice["status"] == "void" else "")),
             new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, _latin1(f"Issued {invoice['issued_on']:%Y-%m-%d} - due {invoice['due_on']:%Y-%m-%d}"
                           f" - order {invoice['order_number']}"), new_x="LMARGIN", new_y="NEXT")
    if invoice.get("paid_on"):
        pdf.cell(0, 6, f"Paid {invoice['paid_on']:%Y-%m-%d}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, "Bill to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for line in _address(invoice):
        pdf.cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    widths = (90, 20, 30, 15, 35)
    pdf.set_font("Helvetica", "B", 10)
    for width, title, align in zip(widths, ("Description", "Qty", "Unit price", "Disc.", "Amount"),
                                   ("L", "R", "R", "R", "R")):
        pdf.cell(width, 7, title, border="B", align=align)
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in invoice["lines"]:
        description = " - ".join(p for p in (line.get("sku"), line.get("description")) if p)
        pdf.cell(widths[0], 6, _latin1(description)[:60])
        pdf.cell(widths[1], 6, _number(line["quantity"]), align="R")
        pdf.cell(widths[2], 6, f"{Decimal(line['unit_price']):,.2f}", align="R")
        pdf.cell(widths[3], 6, f"{_number(line['discount'])}%" if line["discount"] else "", align="R")
        pdf.cell(widths[4], 6, _money(line["amount"], currency), align="R")
        pdf.ln()
    pdf.ln(2)
    for label, value, bold in (("Subtotal", invoice["subtotal"], False),
                               (f"Tax {_number(invoice['tax_rate'])}%", invoice["tax_amount"], False),
                               ("Total", invoice["total"], True)):
        pdf.set_font("Helvetica", "B" if bold else "", 11)
        pdf.cell(sum(widths[:4]), 7, label, align="R")
        pdf.cell(widths[4], 7, _money(value, currency), align="R", border="T" if bold else 0)
        pdf.ln()
    return bytes(pdf.output())

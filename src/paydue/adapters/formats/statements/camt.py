"""ISO 20022 camt.053 (statement), camt.054 (debit/credit notification) and camt.052 (report).

Elements are matched by local name, so every version (001.02 ... 001.13) and national
namespace variants (the Austrian STUZZA ``ISO:camt.053.001.02:APC:STUZZA:payments:003``) read
the same; the namespace only names the message in ``Statement.format``. The XML parser never
resolves entities, never touches the network and refuses documents with a DOCTYPE.

An entry (``Ntry``) becomes one :class:`StatementLine`; a batch entry whose ``NtryDtls`` list
several ``TxDtls`` that each carry an amount becomes one line per transaction
(``is_batch_part=True``) with the entry's booking date and reference. A batch whose transactions
carry no amounts stays one line for the entry, with their remittance texts joined.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

from lxml import etree
from lxml.etree import _Element

from .amounts import to_minor
from .errors import StatementFormatError
from .model import Balance, LineFields, Statement, build_lines

_ELEMENTS = etree.Element  # iterchildren() filter: elements only, no comments or entities
_MESSAGE = re.compile(r"camt\.\d{3}\.\d{3}\.\d{2}")
_CONTAINERS = {
    "BkToCstmrStmt": ("Stmt", "camt.053"),
    "BkToCstmrDbtCdtNtfctn": ("Ntfctn", "camt.054"),
    "BkToCstmrAcctRpt": ("Rpt", "camt.052"),
}


def parse(data: bytes) -> list[Statement]:
    """Parse a camt.052/053/054 document into its statements (one per Stmt/Ntfctn/Rpt)."""
    root = _document(data)
    namespace, _, root_name = root.tag.rpartition("}")
    if root_name != "Document":
        raise StatementFormatError(f"/{root_name}", "the root element is not a camt <Document>")
    message = next(root.iterchildren(_ELEMENTS), None)
    if message is None or _local(message) not in _CONTAINERS:
        found = "nothing" if message is None else f"<{_local(message)}>"
        raise StatementFormatError(
            "/Document", f"expected a camt.052/053/054 message, found {found}"
        )
    item_name, family = _CONTAINERS[_local(message)]
    found_version = _MESSAGE.search(namespace)
    message_type = found_version.group(0) if found_version else family
    base = f"/Document/{_local(message)}/{item_name}"
    return [
        _statement(item, f"{base}[{index}]", message_type)
        for index, item in enumerate(message.iterchildren(f"{{*}}{item_name}"), 1)
    ]


def _document(data: bytes) -> _Element:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        tree = etree.fromstring(data, parser).getroottree()
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else 0
        raise StatementFormatError(f"line {line}", f"not well-formed XML ({exc.msg})") from None
    if tree.docinfo.doctype:
        raise StatementFormatError("/", "a DOCTYPE is not allowed in a camt document")
    return tree.getroot()


def _local(element: _Element) -> str:
    return str(element.tag).rpartition("}")[2]


def _kids(element: _Element | None) -> dict[str, _Element]:
    """First child element of each local name."""
    kids: dict[str, _Element] = {}
    if element is not None:
        for child in element.iterchildren(_ELEMENTS):
            kids.setdefault(child.tag.rpartition("}")[2], child)
    return kids


def _at(element: _Element | None, *names: str) -> _Element | None:
    for name in names:
        if element is None:
            return None
        element = next(element.iterchildren(f"{{*}}{name}"), None)
    return element


def _text(element: _Element | None, *names: str) -> str | None:
    found = _at(element, *names) if names else element
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _all(element: _Element | None, name: str) -> Iterator[_Element]:
    if element is not None:
        yield from element.iterchildren(f"{{*}}{name}")


def _date(element: _Element | None, where: str) -> date | None:
    """``<Dt>`` or ``<DtTm>`` inside ``element``; the date as written (local to the bank)."""
    text = _text(element, "Dt") or _text(element, "DtTm")
    if element is None or text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise StatementFormatError(where, f"{text!r} is not a date") from None


def _datetime(text: str | None, where: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise StatementFormatError(where, f"{text!r} is not a date-time") from None


def _signed_amount(kids: dict[str, _Element], where: str) -> tuple[int, str]:
    """``Amt`` with its ``Ccy`` and ``CdtDbtInd`` as signed minor units; all mandatory."""
    amount = kids.get("Amt")
    if amount is None:
        raise StatementFormatError(f"{where}/Amt", "the amount is missing")
    currency = amount.get("Ccy")
    if not currency:
        raise StatementFormatError(f"{where}/Amt/@Ccy", "the currency is missing")
    minor = to_minor(amount.text or "", currency, f"{where}/Amt")
    return minor * _sign(kids, where), currency


def _sign(kids: dict[str, _Element], where: str) -> int:
    indicator = _text(kids.get("CdtDbtInd"))
    if indicator == "CRDT":
        return 1
    if indicator == "DBIT":
        return -1
    reason = "is missing" if indicator is None else f"is {indicator!r}, not CRDT or DBIT"
    raise StatementFormatError(f"{where}/CdtDbtInd", f"the credit/debit indicator {reason}")


def _statement(item: _Element, where: str, message_type: str) -> Statement:
    kids = _kids(item)
    account = _kids(kids.get("Acct"))
    period = kids.get("FrToDt")
    opening, closing = _balances(item, where)
    created_at = _datetime(_text(kids.get("CreDtTm")), f"{where}/CreDtTm")
    created = created_at.date() if created_at else None
    lines: list[LineFields] = []
    for index, entry in enumerate(_all(item, "Ntry"), 1):
        lines.extend(_entry(entry, f"{where}/Ntry[{index}]", created))
    currency = _text(account.get("Ccy")) or next(
        (b.currency for b in (opening, closing) if b is not None),
        lines[0]["currency"] if lines else None,
    )
    account_id = _text(account.get("Id"), "IBAN") or _text(account.get("Id"), "Othr", "Id")
    return Statement(
        format=message_type,
        account=account_id,
        currency=currency,
        statement_id=_text(kids.get("Id")),
        sequence_number=_text(kids.get("ElctrncSeqNb")) or _text(kids.get("LglSeqNb")),
        created_at=created_at,
        period_from=_datetime(_text(period, "FrDtTm"), f"{where}/FrToDt/FrDtTm"),
        period_to=_datetime(_text(period, "ToDtTm"), f"{where}/FrToDt/ToDtTm"),
        opening_balance=opening,
        closing_balance=closing,
        lines=build_lines(account_id, lines),
    )


def _balances(item: _Element, where: str) -> tuple[Balance | None, Balance | None]:
    """Opening (OPBD, else PRCD) and closing (CLBD) booked balance."""
    found: dict[str, Balance] = {}
    for index, element in enumerate(_all(item, "Bal"), 1):
        kids = _kids(element)
        code = _text(kids.get("Tp"), "CdOrPrtry", "Cd") or _text(
            kids.get("Tp"), "CdOrPrtry", "Prtry"
        )
        if code not in ("OPBD", "PRCD", "CLBD") or code in found:
            continue
        at = f"{where}/Bal[{index}]"
        amount, currency = _signed_amount(kids, at)
        found[code] = Balance(amount, currency, _date(kids.get("Dt"), f"{at}/Dt"))
    return found.get("OPBD") or found.get("PRCD"), found.get("CLBD")


def _bank_transaction_code(element: _Element | None) -> str | None:
    """``DOMAIN-FAMILY-SUBFAMILY`` when the ISO code is given, else the proprietary code."""
    domain = _at(element, "Domn")
    if domain is not None:
        codes = (
            _text(domain, "Cd"),
            _text(domain, "Fmly", "Cd"),
            _text(domain, "Fmly", "SubFmlyCd"),
        )
        return "-".join(code for code in codes if code) or None
    return _text(element, "Prtry", "Cd")


def _entry(entry: _Element, where: str, created: date | None) -> list[LineFields]:
    """The lines of one ``Ntry``.

    ``BookgDt`` is optional in ISO 20022 (notifications may omit it): the booking date falls
    back to the value date, then to ``created`` (the statement's creation date); an entry with
    none of them is refused.
    """
    kids = _kids(entry)
    amount, currency = _signed_amount(kids, where)
    value_date = _date(kids.get("ValDt"), f"{where}/ValDt")
    booking_date = _date(kids.get("BookgDt"), f"{where}/BookgDt") or value_date or created
    if booking_date is None:
        raise StatementFormatError(f"{where}/BookgDt", "the booking date is missing")
    details = list(_all(entry, "NtryDtls"))
    transactions = [t for d in details for t in _all(d, "TxDtls")]
    batch = next((b for d in details for b in _all(d, "Btch")), None)
    bank_reference = _text(kids.get("AcctSvcrRef"))
    entry_line = LineFields(
        booking_date=booking_date,
        value_date=value_date,
        amount=amount,
        currency=currency,
        additional_info=_text(kids.get("AddtlNtryInf")),
        bank_reference=bank_reference,
        is_reversal=_text(kids.get("RvslInd")) in ("true", "1"),
        bank_transaction_code=_bank_transaction_code(kids.get("BkTxCd")),
        status=_text(kids.get("Sts")) or _text(kids.get("Sts"), "Cd"),
        entry_reference=_text(kids.get("NtryRef")) or bank_reference,
        batch_id=_text(batch, "PmtInfId") or _text(batch, "MsgId"),
    )
    if len(transactions) == 1:
        return [_line(transactions[0], entry_line)]
    amounts = [_transaction_amount(t) for t in transactions]
    if not transactions or None in amounts:
        texts = [text for text in map(_remittance_text, transactions) if text]
        entry_line["remittance_text"] = " ".join(texts) or None
        return [entry_line]
    part = entry_line.copy()
    part["is_batch_part"] = True
    part["batch_id"] = entry_line["batch_id"] or entry_line["entry_reference"]
    lines = []
    for index, (transaction, element) in enumerate(zip(transactions, amounts, strict=True), 1):
        at = f"{where}/NtryDtls/TxDtls[{index}]"
        tx_kids = _kids(transaction)
        if "CdtDbtInd" in tx_kids:
            tx_amount, tx_currency = _signed_amount(tx_kids | {"Amt": element}, at)
        else:
            tx_amount, tx_currency = _signed_amount({**kids, "Amt": element}, at)
        tx_line = part.copy()
        tx_line["amount"], tx_line["currency"] = tx_amount, tx_currency
        lines.append(_line(transaction, tx_line))
    return lines


def _transaction_amount(transaction: _Element) -> _Element | None:
    amount = _at(transaction, "Amt")
    return amount if amount is not None else _at(transaction, "AmtDtls", "TxAmt", "Amt")


def _remittance_text(transaction: _Element) -> str | None:
    texts = [t for t in (_text(u) for u in _all(_at(transaction, "RmtInf"), "Ustrd")) if t]
    return " ".join(texts) or None


def _line(transaction: _Element, entry_line: LineFields) -> LineFields:
    """``entry_line`` completed with what one ``TxDtls`` says about the transaction."""
    kids = _kids(transaction)
    refs = _kids(kids.get("Refs"))
    parties = _kids(kids.get("RltdPties"))
    agents = _kids(kids.get("RltdAgts"))
    credit = entry_line["amount"] > 0
    name, iban, bic = _counterparty(parties, agents, "Dbtr" if credit else "Cdtr")
    if name is None and iban is None:
        name, iban, bic = _counterparty(parties, agents, "Cdtr" if credit else "Dbtr")
    end_to_end = _text(refs.get("EndToEndId"))
    return_info = kids.get("RtrInf")
    structured = (_text(s, "CdtrRefInf", "Ref") for s in _all(kids.get("RmtInf"), "Strd"))
    line = entry_line.copy()
    line.update(
        {
            "counterparty_name": name,
            "counterparty_iban": iban,
            "counterparty_bic": bic,
            "structured_reference": next((ref for ref in structured if ref), None),
            "remittance_text": _remittance_text(transaction),
            "end_to_end_id": None if end_to_end == "NOTPROVIDED" else end_to_end,
            "customer_reference": _text(refs.get("InstrId")),
            "return_reason": _text(return_info, "Rsn", "Cd") or _text(return_info, "Rsn", "Prtry"),
            "bank_reference": _text(refs.get("AcctSvcrRef")) or entry_line["bank_reference"],
            "additional_info": _text(kids.get("AddtlTxInf")) or entry_line["additional_info"],
            "bank_transaction_code": _bank_transaction_code(kids.get("BkTxCd"))
            or entry_line["bank_transaction_code"],
            "batch_id": entry_line["batch_id"] or _text(refs.get("PmtInfId")),
        }
    )
    return line


def _counterparty(
    parties: dict[str, _Element], agents: dict[str, _Element], side: str
) -> tuple[str | None, str | None, str | None]:
    """Name, account (IBAN or other id) and BIC of the debtor or creditor side."""
    party = parties.get(side)
    name = (
        _text(party, "Nm") or _text(party, "Pty", "Nm") or _text(parties.get(f"Ultmt{side}"), "Nm")
    )
    account = parties.get(f"{side}Acct")
    iban = _text(account, "Id", "IBAN") or _text(account, "Id", "Othr", "Id")
    institution = _at(agents.get(f"{side}Agt"), "FinInstnId")
    bic = _text(institution, "BICFI") or _text(institution, "BIC")
    return name, iban, bic

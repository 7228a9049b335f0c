"""Bank statement files written for a test: a camt.053 builder and invoices to match it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from fastapi.testclient import TestClient

from tests.conftest import IBAN, IssuerHandle, invoice_body

PAYER_IBAN = "DE02120300000000202051"


@dataclass(frozen=True)
class Entry:
    """One booked entry: ``amount`` in cents, negative for a debit."""

    amount: int
    reference: str = ""  # structured creditor reference (SCOR)
    text: str = ""  # unstructured remittance
    name: str = "Erika Mustermann"
    iban: str = PAYER_IBAN
    bank_ref: str = ""
    booked: str = "2026-11-20"
    e2e: str = ""  # end-to-end id
    return_reason: str = ""  # RtrInf/Rsn/Cd of a returned payment
    code: str = ""  # bank transaction code DOMAIN-FAMILY-SUBFAMILY


def _decimal(cents: int) -> str:
    cents = abs(cents)
    return f"{cents // 100}.{cents % 100:02d}"


def _entry(entry: Entry) -> str:
    credit = entry.amount > 0
    side = "Dbtr" if credit else "Cdtr"
    structured = (
        f"<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
        f"<Ref>{escape(entry.reference)}</Ref></CdtrRefInf></Strd>"
        if entry.reference
        else ""
    )
    text = f"<Ustrd>{escape(entry.text)}</Ustrd>" if entry.text else ""
    refs = f"<Refs><EndToEndId>{escape(entry.e2e)}</EndToEndId></Refs>" if entry.e2e else ""
    returned = (
        f"<RtrInf><Rsn><Cd>{entry.return_reason}</Cd></Rsn></RtrInf>" if entry.return_reason else ""
    )
    code = ""
    if entry.code:
        domain, family, sub = entry.code.split("-")
        code = (
            f"<BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd>"
            f"<SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>"
        )
    return f"""
      <Ntry>
        <Amt Ccy="EUR">{_decimal(entry.amount)}</Amt>
        <CdtDbtInd>{"CRDT" if credit else "DBIT"}</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>{entry.booked}</Dt></BookgDt>
        <ValDt><Dt>{entry.booked}</Dt></ValDt>
        {f"<AcctSvcrRef>{escape(entry.bank_ref)}</AcctSvcrRef>" if entry.bank_ref else ""}
        {code}
        <NtryDtls><TxDtls>{refs}
          <RltdPties>
            <{side}><Nm>{escape(entry.name)}</Nm></{side}>
            <{side}Acct><Id><IBAN>{entry.iban}</IBAN></Id></{side}Acct>
          </RltdPties>
          <RmtInf>{text}{structured}</RmtInf>{returned}
        </TxDtls></NtryDtls>
      </Ntry>"""


def camt053(entries: list[Entry], *, statement_id: str = "STMT-2026-11-20") -> bytes:
    """A camt.053.001.02 statement of the test issuer's account with ``entries``."""
    body = "".join(_entry(entry) for entry in entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG-{statement_id}</MsgId><CreDtTm>2026-11-20T18:00:00Z</CreDtTm></GrpHdr>
    <Stmt>
      <Id>{statement_id}</Id>
      <CreDtTm>2026-11-20T18:00:00Z</CreDtTm>
      <Acct><Id><IBAN>{IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>{body}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


def create_invoices(
    client: TestClient, issuer: IssuerHandle, amounts: list[int], *, prefix: str = "2026-"
) -> list[dict[str, Any]]:
    """Invoices of one payer with ``amounts``, numbered ``prefix`` + 4 digits."""
    bodies = [invoice_body(f"{prefix}{i + 1:04d}", amount) for i, amount in enumerate(amounts)]
    r = client.post("/v1/invoices/batch", json={"invoices": bodies}, headers=issuer.headers)
    assert r.status_code == 201, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def upload(client: TestClient, issuer: IssuerHandle, data: bytes, **headers: str) -> Any:
    """POST a statement file as a multipart upload."""
    return client.post(
        "/v1/statements",
        files={"file": ("statement.xml", data, "application/xml")},
        headers={**issuer.headers, **headers},
    )

"""Small synthetic claims for the sandbox payer tests, turned into real 837s by claimflow's builders.

All names, member IDs and addresses are invented; NPIs pass the Luhn check (prefix 80840) unless a test
breaks one on purpose; procedure codes are CPT/HCPCS codes only (no descriptions).
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from claimflow.sandbox.payer import EngineConfig, adjudicate_file, release_payments
from claimflow.sandbox.payer.claims837 import Claim837, Interchange837, read_837_segments
from claimflow.sandbox.payer.engine import PayerSimulator
from claimflow.sandbox.payer.state import SandboxState
from edi import claim as ec
from edi.control_numbers import InMemoryControlNumbers
from edi.reader import iter_segments
from edi.x837 import build_interchange
from tests.support.claims import DR_WELBY, SUBMITTER, emergency_visit, make_npi, overridden

SEED = 20250310
DOS = dt.date(2025, 3, 3)  # date of service
RECEIVED = dt.date(2025, 3, 10)  # first night
NEXT_NIGHT = dt.date(2025, 3, 11)
CREATED = dt.datetime(2025, 3, 10, 18, 0)


def bad_npi(base9: str) -> str:
    good = make_npi(base9)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


CLINIC = ec.Provider(
    npi=make_npi("123456789"),
    last_name="SUNRISE FAMILY CLINIC",
    entity_type="2",
    taxonomy="207Q00000X",
    tax_id="371234567",
    address=ec.Address("100 MAIN ST", "SPRINGFIELD", "IL", "627011234"),
)
HOSPITAL = ec.Provider(
    npi=make_npi("150000001"),
    last_name="RIVERBEND COMMUNITY HOSPITAL",
    entity_type="2",
    taxonomy="282N00000X",
    tax_id="371234999",
    address=ec.Address("900 LAKE SHORE DR", "SPRINGFIELD", "IL", "627040001"),
)
DR_KILDARE = ec.Provider(
    npi=make_npi("100300012"), last_name="KILDARE", first_name="JAMES", entity_type="1", taxonomy="207R00000X"
)

ACME = ec.Payer("SBX01", "ACME COMMERCIAL HEALTH", ec.ClaimFilingIndicator.COMMERCIAL)
BLUE = ec.Payer("SBX02", "BLUE PEAK HEALTH PLAN", ec.ClaimFilingIndicator.BLUE_CROSS)
MEDICARE = ec.Payer("SBX03", "SANDBOX MEDICARE PART B", ec.ClaimFilingIndicator.MEDICARE_B)
MEDICAID = ec.Payer("SBX05", "STATE MEDICAID SANDBOX", ec.ClaimFilingIndicator.MEDICAID)

RECEIVER = ec.Party(name="SANDBOX CLEARINGHOUSE", identifier="SANDBOXCH")


def person(
    last: str = "DOE", first: str = "JANE", birth: dt.date = dt.date(1980, 4, 12), gender: str = "F"
) -> ec.Person:
    return ec.Person(last, first, birth, gender, ec.Address("12 ELM ST", "SPRINGFIELD", "IL", "62701"))


def line(n: int, code: str, charge: str, *, mods: tuple[str, ...] = (), units: str = "1", dos: dt.date = DOS,
         rev: str | None = None, lcn: str | None = "") -> ec.ServiceLine:  # fmt: skip
    return ec.ServiceLine(
        line_number=n,
        charge=Decimal(charge),
        units=Decimal(units),
        service_date=dos,
        procedure_code=code or None,
        modifiers=mods,
        revenue_code=rev,
        line_control_number=(f"LCN-{n}" if lcn == "" else lcn),
    )


def prof(
    pcn: str,
    lines: list[ec.ServiceLine] | None = None,
    *,
    payer: ec.Payer = ACME,
    member: str = "ACM10000001",
    patient: ec.Person | None = None,
    dependent: ec.Person | None = None,
    billing: ec.Provider = CLINIC,
    rendering: ec.Provider | None = DR_WELBY,
    **kw: object,
) -> ec.Claim:
    """A professional claim; ``dependent`` makes the patient a child on the subscriber's plan."""
    lines = lines if lines is not None else [line(1, "99213", "125.00"), line(2, "36415", "18.00")]
    for ln in lines:
        if ln.line_control_number == "LCN-" + str(ln.line_number):
            ln.line_control_number = f"{pcn}-{ln.line_number}"
    c = ec.Claim(
        claim_id=zlib.crc32(pcn.encode()) % 10_000_000,
        claim_type=ec.ClaimType.PROFESSIONAL,
        patient_control_number=pcn,
        total_charge=sum((ln.charge for ln in lines), Decimal("0.00")),
        billing_provider=billing,
        payer=payer,
        subscriber=ec.Subscriber(member, patient or person()),
        diagnoses=["I10"],
        lines=lines,
        rendering_provider=rendering,
    )
    if dependent is not None:
        c.patient = dependent
        c.relationship = ec.Relationship.CHILD
    return overridden(c, kw)


def secondary(
    pcn: str, *, payer: ec.Payer = BLUE, primary: ec.Payer = ACME, member: str = "BPK20000002"
) -> ec.Claim:
    """Billed to the secondary after the primary paid 100 of 143, with CO-45 and PR amounts per line."""
    c = prof(pcn, payer=payer, member=member)
    c.responsibility = ec.PayerResponsibility.SECONDARY
    adj = DOS + dt.timedelta(days=4)
    c.lines[0].other_payer = ec.OtherPayerLine(
        paid=Decimal("85.00"), adjustments=(("CO", "45", Decimal("15.00")), ("PR", "2", Decimal("25.00"))),
        adjudication_date=adj,
    )  # fmt: skip
    c.lines[1].other_payer = ec.OtherPayerLine(
        paid=Decimal("15.00"), adjustments=(("CO", "45", Decimal("3.00")),), adjudication_date=adj
    )
    c.other_coverages = [
        ec.OtherCoverage(
            payer=primary,
            subscriber=ec.Subscriber("ACM10000001", c.subscriber.person),
            responsibility=ec.PayerResponsibility.PRIMARY,
            paid=Decimal("100.00"),
            adjudication_date=adj,
        )
    ]
    return c


def outpatient(
    pcn: str, *, payer: ec.Payer = MEDICARE, member: str = "1EG4TE5MK72", **kw: object
) -> ec.Claim:
    c = ec.Claim(
        claim_id=zlib.crc32(pcn.encode()) % 10_000_000,
        claim_type=ec.ClaimType.INSTITUTIONAL,
        patient_control_number=pcn,
        total_charge=Decimal("1230.00"),
        billing_provider=HOSPITAL,
        payer=payer,
        subscriber=ec.Subscriber(member, person("SMITH", "ALEX", dt.date(1950, 11, 3), "M")),
        diagnoses=["R0789", "I10"],
        lines=[
            line(1, "99284", "850.00", rev="0450", mods=("25",)),
            line(2, "71046", "310.00", rev="0320"),
            line(3, "", "70.00", rev="0250"),
        ],
        place_of_service="13",
        **emergency_visit(DOS, DR_KILDARE),
    )
    return overridden(c, kw)


def inpatient(pcn: str, *, payer: ec.Payer = ACME, member: str = "ACM30000003") -> ec.Claim:
    adm = DOS - dt.timedelta(days=5)
    return outpatient(
        pcn,
        payer=payer,
        member=member,
        bill_type="111",
        place_of_service="11",
        statement_from=adm,
        statement_to=adm + dt.timedelta(days=3),
        admission_date=adm,
        admission_hour="1430",
        admitting_diagnosis="J189",
        diagnoses=["J189", "I10"],
        poa_indicators=("Y", "Y"),
        reason_for_visit=(),
        total_charge=Decimal("6650.00"),
        lines=[
            ec.ServiceLine(
                1,
                Decimal("5400.00"),
                Decimal("3"),
                adm,
                revenue_code="0120",
                unit_basis="DA",
                service_date_end=adm + dt.timedelta(days=2),
                line_control_number=f"{pcn}-1",
            ),
            ec.ServiceLine(2, Decimal("500.00"), Decimal("4"), adm, revenue_code="0250"),
            ec.ServiceLine(
                3, Decimal("750.00"), Decimal("1"), adm, revenue_code="0320", procedure_code="71046"
            ),
        ],
    )


def replacement(original: ec.Claim, icn: str, *, void: bool = False) -> ec.Claim:
    c = prof(original.patient_control_number, [line(1, "99214", "185.00")], payer=original.payer)
    c.frequency = ec.ClaimFrequency.VOID if void else ec.ClaimFrequency.REPLACEMENT
    c.payer_claim_control_number = icn
    return c


def five_patients(second_visit: list[ec.ServiceLine]) -> list[ec.Claim]:
    """PCN-001..005, one of each kind of patient the payer answers differently: an adult on ACME, the same
    with ``second_visit``'s lines, a child on a parent's plan, a Medicare and a Medicaid beneficiary."""
    kid = person("DOE", "JIMMY", dt.date(2016, 5, 1), "M")
    return [
        prof("PCN-001"),
        prof("PCN-002", second_visit),
        prof("PCN-003", dependent=kid),
        prof(
            "PCN-004",
            payer=MEDICARE,
            member="1EG4TE5MK73",
            patient=person("OLD", "OSCAR", dt.date(1948, 1, 2)),
        ),
        prof(
            "PCN-005",
            payer=MEDICAID,
            member="MCD55500011",
            patient=person("YOUNG", "YVES", dt.date(1999, 3, 3)),
        ),
    ]


def build_837(claims: list[ec.Claim], *, isa13: int = 100, ack_requested: str = "0") -> str:
    parties = ec.InterchangeParties(
        sender_qualifier="ZZ",
        sender_id="CLAIMFLOW",
        receiver_qualifier="ZZ",
        receiver_id="SANDBOXCH",
        usage="T",
        ack_requested=ack_requested,
    )
    ctl = InMemoryControlNumbers(interchange=isa13, group=isa13, transaction=1)
    return build_interchange(claims, parties, SUBMITTER, RECEIVER, ctl, CREATED).text


def _by_type(claims: list[ec.Claim]) -> list[list[ec.Claim]]:
    """Consecutive runs of one claim type (an interchange carries 837P or 837I, not both)."""
    out: list[list[ec.Claim]] = []
    for c in claims:
        if out and out[-1][0].claim_type == c.claim_type:
            out[-1].append(c)
        else:
            out.append([c])
    return out


def read_claims(claims: list[ec.Claim]) -> list[Claim837]:
    """Claims as the sandbox reads them from 837s built by claimflow."""
    return [c for chunk in _by_type(claims) for c in _interchange(build_837(chunk)).claims]


def _interchange(text: str) -> Interchange837:
    return read_837_segments(iter_segments(text.encode("ascii")), component=":")


@dataclass
class PayerHarness:
    """A simulator on an in-memory state, for engine tests."""

    seed: int = SEED
    config: EngineConfig = field(default_factory=EngineConfig)
    state: SandboxState = field(init=False)

    def __post_init__(self) -> None:
        self.state = SandboxState.load(Path("/nonexistent/payer-state.json"), self.seed)

    @property
    def payer(self) -> PayerSimulator:
        return PayerSimulator(self.state, self.seed, self.config)

    def submit(self, claims: list[ec.Claim], received: dt.date = RECEIVED) -> list:
        """Front end + adjudication for each claim; returns the acks."""
        from claimflow.sandbox.payer import _route

        acks = []
        sim = self.payer
        for chunk in _by_type(claims):
            ich = _interchange(build_837(chunk))
            for g in ich.groups:
                for t in g.transactions:
                    for c in t.claims:
                        ack = sim.front_end(c, received)
                        acks.append(ack)
                        if ack.accepted:
                            sim.accept(ack, _route("sandbox", ich, g, c), received)
        return acks

    def run(self, when: dt.date = RECEIVED) -> list:
        return self.payer.release_payments(when)


@pytest.fixture
def harness() -> PayerHarness:
    return PayerHarness()


@dataclass
class Sandbox:
    """adjudicate_file/release_payments on files in a temporary directory."""

    root: Path
    seed: int = SEED
    config: EngineConfig | None = None
    isa13: int = 100

    @property
    def state_path(self) -> Path:
        return self.root / "state" / "payer-state.json"

    @property
    def out(self) -> Path:
        return self.root / "out"

    def send(
        self,
        claims: list[ec.Claim],
        when: dt.date = RECEIVED,
        *,
        defer: bool = False,
        ack_requested: str = "0",
    ) -> list[Path]:
        self.isa13 += 1
        path = self.root / "in" / f"upload{self.isa13}.837"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(build_837(claims, isa13=self.isa13, ack_requested=ack_requested))
        return self.send_file(path, when, defer=defer)

    def send_file(self, path: Path, when: dt.date = RECEIVED, *, defer: bool = False) -> list[Path]:
        return adjudicate_file(
            path,
            self.out,
            state_path=self.state_path,
            seed=self.seed,
            run_date=when,
            defer_payments=defer,
            config=self.config,
        )

    def release(self, when: dt.date = NEXT_NIGHT) -> list[Path]:
        return release_payments(
            self.out, state_path=self.state_path, seed=self.seed, run_date=when, config=self.config
        )


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)

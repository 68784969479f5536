"""What the RCM console tests show: a worklist with an item from every source and one archived outbound 837
whose PHI the segment view must mask. Shared by tests/integration/test_console.py (HTTP, both backends)
and tests/browser/test_console_browser.py (real Chromium), so both look at the same data."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, insert

from adjudication.worklist import build_worklist
from claimflow.db import models as m
from tests.unit.adjudication.worklist_builders import RUN, Scenario, every_source

PHI = ("ZZTESTLAST", "ZZTESTFIRST", "ZZMEMBER01", "ZZMEMBER02", "ZZTEST ST", "19700102")

# An 837P fragment with the practice's PHI in the places the mask covers (ISA is 106 characters).
X837 = (
    "ISA*00*          *00*          *ZZ*CLAIMFLOW01    *ZZ*SANDBOXCH      *261120*2000*^*00501*000000123*0*T*:~"
    "GS*HC*CLAIMFLOW01*SANDBOXCH*20261120*2000*123*X*005010X222A1~ST*837*0001*005010X222A1~"
    "NM1*85*2*SUNRISE FAMILY MEDICINE*****XX*1234567893~N3*9 CLINIC RD~N4*SPRINGFIELD*IL*627010000~"
    "NM1*IL*1*ZZTESTLAST*ZZTESTFIRST****MI*ZZMEMBER01~N3*1 ZZTEST ST~N4*ZZTOWN*IL*62701~"
    "DMG*D8*19700102*F~REF*SY*ZZMEMBER02~CLM*C0001A1*125.00***11:B:1*Y*A*Y*Y~"
    "SE*10*0001~GE*1*123~IEA*1*000000123~"
)


def seed_console(engine: Engine, archive: Path) -> tuple[Scenario, int]:
    """Every worklist source plus the 837 above archived at ``archive``; returns the scenario and the
    interchange id of the file (for the segment view)."""
    sc = every_source(engine)
    build_worklist(engine, RUN)
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_text(X837)
    with engine.begin() as conn:
        file_id = conn.execute(
            insert(m.Interchange).values(
                direction="out",
                sha256=uuid.uuid4().hex,
                bytes=len(X837),
                file_name=archive.name,
                archive_path=str(archive),
                transaction_type="837P",
                isa13="000000123",
                status="uploaded",
                claim_count=1,
                total_charge=Decimal("125.00"),
            )
        ).inserted_primary_key[0]
    return sc, int(file_id)

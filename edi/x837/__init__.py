"""837 builders: Health Care Claim Professional (005010X222A1) and Institutional (005010X223A2).

Entry points: :func:`build_interchange` (text in memory) and :func:`write_interchange` (streams to a file).
"""

from __future__ import annotations

from edi.x837.batch import (
    DEFAULT_MAX_CLAIMS_PER_ST,
    BuiltInterchange,
    BuiltTransaction,
    InterchangeManifest,
    build_interchange,
    write_interchange,
)
from edi.x837.common import VERSION_837I, VERSION_837P, BuildContext

__all__ = [
    "DEFAULT_MAX_CLAIMS_PER_ST",
    "VERSION_837I",
    "VERSION_837P",
    "BuildContext",
    "BuiltInterchange",
    "BuiltTransaction",
    "InterchangeManifest",
    "build_interchange",
    "write_interchange",
]

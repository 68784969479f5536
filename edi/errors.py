"""Typed errors for reading and writing X12.

Every error that concerns a file names the file, the segment number (1-based, counted from the first
segment of the file, ISA = 1), the segment ID and, where it applies, the element (``SE01``). The message
never carries element *values* of patient data: operators read these in logs and Airflow task output,
and PHI must stay in the database.
"""

from __future__ import annotations


class X12Error(Exception):
    """Base class of every X12 problem claimflow reports. Bad data: the same bytes fail the same way."""

    retryable: bool = False
    operator_hint: str = (
        "The file is quarantined; the rest of the batch went on. Ask the clearinghouse to resend it."
    )


class X12ParseError(X12Error):
    """A file that cannot be read as the X12 it claims to be.

    ``str(err)`` is the one line the CLI prints on stderr, e.g.
    ``bad.835: segment 57 (SE): SE01 says 40 segments, counted 41``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        segment_no: int | None = None,
        segment_id: str | None = None,
        element: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.segment_no = segment_no
        self.segment_id = segment_id
        self.element = element
        super().__init__(self.line())

    def line(self) -> str:
        where = []
        if self.segment_no is not None:
            seg = f"segment {self.segment_no}"
            if self.segment_id:
                seg += f" ({self.segment_id})"
            where.append(seg)
        elif self.segment_id:
            where.append(f"segment {self.segment_id}")
        prefix = f"{self.file or '<input>'}: "
        if where:
            prefix += ", ".join(where) + ": "
        body = f"{self.element} {self.message}" if self.element else self.message
        return prefix + body

    def with_file(self, file: str) -> X12ParseError:
        """Return the same error naming ``file`` (readers may not know the name they were given)."""
        self.file = file
        self.args = (self.line(),)
        return self

    def __str__(self) -> str:
        return self.line()


class X12WriteError(X12Error):
    """Data that cannot be written as X12: a delimiter inside a value, a value too long, a missing field.

    Names the segment and element (``NM103``) and the claim's patient control number when known, never the
    offending value itself.
    """

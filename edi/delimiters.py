"""X12 delimiters: the four characters an interchange declares in its fixed-width ISA segment.

ISA is 106 characters: the element separator is the character right after ``ISA``, the repetition
separator is ISA11 (5010), the component separator is ISA16 and the segment terminator follows it.
The reader finds them in whatever file it is given; the writer uses what the partner profile says.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Delimiters:
    """``ISA*00*...*^*00501*...*T*:~`` declares element ``*``, repetition ``^``, component ``:``,
    segment ``~``."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"

    def all(self) -> str:
        return self.element + self.component + self.repetition + self.segment


DEFAULT_DELIMITERS = Delimiters()

"""Typed errors of the app shell. Messages name files, claims (by claim number) and interchange ids,
never patient data."""

from __future__ import annotations


class ClaimflowError(Exception):
    """Base class."""


class BadDataError(ClaimflowError):
    """The data is wrong (an invalid 837, a malformed inbound file): retrying cannot help."""


class DataQualityError(ClaimflowError):
    """The nightly data-quality checks found unexplained exceptions."""


class ConfigurationError(ClaimflowError):
    """A setting, connection or partner profile is missing or inconsistent."""

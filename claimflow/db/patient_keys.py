"""Patient keys: the salted pseudonym analysts see instead of a patient id (``patient_keys`` table).

Why here, in the storage layer, and not in :mod:`claimflow.services.analyst`: the nightly reconciliation
(:mod:`adjudication.reconcile`) gives new patients their keys, and adjudication sits below the services
layer (``tests/quality/test_layers.py``). :mod:`claimflow.services.analyst` re-exports everything below.

A key is the first :data:`KEY_LENGTH` hex digits of ``sha256(salt || ':' || patient id)``, computed once per
patient — in SQL on PostgreSQL (built-in ``sha256()``), in Python on SQLite (``hashlib``; identical values)
— and never recomputed, so keys stay stable even if the salt setting changes. The salt comes from
``CLAIMFLOW_PATIENT_KEY_SALT`` (the environment, or ``.env`` through :class:`claimflow.settings.Settings`);
:data:`DEFAULT_SALT` is public.
"""

from __future__ import annotations

import hashlib
import os

from sqlalchemy import Connection, text

SALT_ENV = "CLAIMFLOW_PATIENT_KEY_SALT"
DEFAULT_SALT = "claimflow-patient-key-v1"
KEY_LENGTH = 32


def configured_salt() -> str | None:
    """The salt set for this installation (environment first, then ``.env``), or None."""
    if os.environ.get(SALT_ENV):
        return os.environ[SALT_ENV]
    from claimflow.settings import get_settings

    return get_settings().patient_key_salt or None


def patient_salt() -> str:
    return configured_salt() or DEFAULT_SALT


def patient_key(patient_id: int, salt: str | None = None) -> str:
    """The key of one patient id (the same value SQL computes on PostgreSQL)."""
    raw = f"{patient_salt() if salt is None else salt}:{patient_id}".encode()
    return hashlib.sha256(raw).hexdigest()[:KEY_LENGTH]


def refresh_patient_keys(conn: Connection, salt: str | None = None) -> int:
    """Give every patient without a key one. Set-based SQL on PostgreSQL; Python hashing on SQLite.
    Returns how many keys were added."""
    salt = patient_salt() if salt is None else salt
    if conn.dialect.name == "postgresql":
        return conn.execute(
            text(
                "INSERT INTO patient_keys (patient_id, patient_key) "
                f"SELECT p.id, substr(encode(sha256(convert_to(:salt || ':' || CAST(p.id AS TEXT), 'UTF8')), "
                f"'hex'), 1, {KEY_LENGTH}) FROM patients p "
                # Not an anti-join: planned while patient_keys looks empty (a new database, or before
                # autovacuum's first look) PostgreSQL re-scans the table it is filling once per patient —
                # quadratic: 4.4 s at 20,000 patients, minutes at 200,000. The primary-key probe of ON
                # CONFLICT is one index lookup per patient whatever the statistics say.
                "ON CONFLICT (patient_id) DO NOTHING"
            ),
            {"salt": salt},
        ).rowcount
    missing = (
        conn.execute(
            text(
                "SELECT p.id FROM patients p WHERE NOT EXISTS "
                "(SELECT 1 FROM patient_keys k WHERE k.patient_id = p.id)"
            )
        )
        .scalars()
        .all()
    )
    if missing:
        conn.execute(
            text("INSERT INTO patient_keys (patient_id, patient_key) VALUES (:pid, :key)"),
            [{"pid": pid, "key": patient_key(pid, salt)} for pid in missing],
        )
    return len(missing)

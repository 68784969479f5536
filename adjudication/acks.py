"""Applying stored acknowledgments (TA1, 999, 277CA) to submissions and claims — set-based.

* **TA1** rejected (TA104 R) for one of our interchanges: every submission in it is rejected.
* **999** transaction-set response (``acknowledgments.kind = '999_set'``) not accepted (IK501 R, M, W,
  X): the submissions whose transaction set it answers (GS06 + ST02, within our outbound interchange
  ``matched_interchange_id`` when the loader knew it) are rejected. A rejected functional group
  (``999_group``, AK901 R/M/W/X) rejects every submission of that group. An accepted 999 changes
  nothing: it only says the file was readable; payer acceptance comes from the 277CA.
* **277CA** claim-level status (``claim_statuses.level = 'claim'``), matched to
  ``submissions.patient_control_number``: category A1/A2/A5 → submission (and claim) **accepted**, with
  ``claims.payer_claim_number`` from REF*1K; A3/A4/A6/A7/A8 (or any other category the loader marked not
  accepted, e.g. a claim whose only rejecting STC is on a 2220D service line) → **rejected**. When one
  277CA carries both for a claim, rejection wins.
* **277CA above claim level**: a rejecting 2200B (``level = 'batch'``; STC category A3/A4/A6-A8 or not
  accepted — e.g. STC03 = U with no 2000D loops) rejects every submission of the 837 it names (2200B
  TRN02 = our BHT03 = ``CF`` + ISA13 + ST02); a rejecting 2200C (``level = 'provider'``) rejects the
  submissions of that 837 (its 2200B's) whose billing provider NPI is the 2100C NM109. Only submissions
  still ``submitted`` or ``accepted`` change; each such row is applied once (``applied_at``).

A claim follows its submission only when that submission is the claim's latest attempt and the
lifecycle allows the change (a paid claim is never sent back to accepted). Idempotent: 277CA rows get
``applied_at`` (also those that match nothing: they are counted as ``unmatched`` once), and 999/TA1
rejections only touch submissions still in status ``submitted``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from claimflow.db.audit import audit
from claimflow.db.models import ClaimStatus as S

from ._sql import Sql, bind, bind_in
from .lifecycle import sources_for, sql_in

ACCEPT_CATEGORIES = ("A1", "A2", "A5")
REJECT_CATEGORIES = ("A3", "A4", "A6", "A7", "A8")


def apply_acknowledgments(engine: Engine, *, actor: str) -> dict[str, Any]:
    """Apply every not yet applied acknowledgment. Returns counts:
    ``{"accepted", "rejected", "rejected_277ca", "rejected_277ca_batch", "rejected_277ca_provider",
    "levels_unmatched", "rejected_999", "rejected_ta1", "unmatched", "ignored", "claims_accepted",
    "claims_rejected"}`` (``rejected`` is the sum of the rejected_* submission counts;
    ``levels_unmatched``: rejecting 2200B/2200C rows that named no 837 of ours)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        q = Sql(conn).for_batch()
        result = _apply(q, now)
        if any(result.values()):
            audit(
                conn,
                actor=actor,
                action="apply_acknowledgments",
                object_type="batch",
                object_id=None,
                detail=result,
            )
    return result


def _above_claim_level(q: Sql, p: dict[str, Any]) -> dict[str, int]:
    """277CA rejections at 2200B (batch) and 2200C (billing provider) level, added to ``cf_ack_reject``
    (sources ``277B``/``277C``) for every submission they cover that the payer has not answered otherwise
    (status submitted or accepted). The 2200B TRN02 is our 837's BHT03 (``CF`` + ISA13 + ST02, see
    :mod:`edi.x837.batch`); a 2200C row belongs to the 2200B before it in the same transaction set and
    covers the claims of that 837 whose billing provider NPI is its NM109. Every unapplied batch/provider
    row gets ``applied_at``."""
    reject = sql_in(REJECT_CATEGORIES)
    rejecting = f"(cs.accepted = false OR cs.category IN {reject})"
    # Each unapplied rejecting level row with the 837 it refers to (a provider row: its 2200B's trace).
    q.temp_table(
        "cf_ack_level",
        f"""SELECT cs.id AS id, cs.level AS level, cs.entity_identifier AS npi,
                   COALESCE((SELECT b.trace_number FROM claim_statuses b
                             WHERE b.interchange_id = cs.interchange_id AND b.st02 = cs.st02
                               AND b.level = 'batch' AND b.segment_no < cs.segment_no
                             ORDER BY b.segment_no DESC LIMIT 1), cs.trace_number) AS bht03
            FROM claim_statuses cs
            WHERE cs.level IN ('batch', 'provider') AND cs.applied_at IS NULL AND {rejecting}""",
    )
    covered = """SELECT DISTINCT v.id AS level_id, v.level AS level, s.id AS submission_id
        FROM cf_ack_level v
        JOIN interchanges i ON i.direction = 'out' AND v.bht03 LIKE 'CF%'
         AND i.isa13 = substr(v.bht03, 3, 9)
        JOIN submissions s ON s.interchange_id = i.id AND s.st02 = substr(v.bht03, 12)
        {provider}
        WHERE v.level = '{level}'"""
    by_provider = """JOIN claims c ON c.id = s.claim_id
        JOIN providers pv ON pv.id = c.billing_provider_id AND pv.npi = v.npi"""
    q.temp_table(
        "cf_ack_covered",
        covered.format(provider="", level="batch")
        + " UNION "
        + covered.format(provider=by_provider, level="provider"),
    )
    out = {
        "rejected_277ca_batch": 0,
        "rejected_277ca_provider": 0,
        "levels_unmatched": int(
            q.scalar(
                "SELECT COUNT(*) FROM cf_ack_level v WHERE v.id NOT IN (SELECT level_id FROM cf_ack_covered)"
            )
            or 0
        ),
    }
    for level, source in (("batch", "277B"), ("provider", "277C")):
        out[f"rejected_277ca_{level}"] = q.run(
            f"""INSERT INTO cf_ack_reject (submission_id, source)
                SELECT DISTINCT c.submission_id, '{source}' FROM cf_ack_covered c
                JOIN submissions s ON s.id = c.submission_id
                WHERE c.level = '{level}' AND s.status IN ('submitted', 'accepted')
                  AND c.submission_id NOT IN (SELECT submission_id FROM cf_ack_reject)"""
        ).rowcount
    q.run(
        "UPDATE claim_statuses SET applied_at = :now WHERE level IN ('batch', 'provider') AND applied_at IS NULL",
        p,
    )
    q.drop("cf_ack_level", "cf_ack_covered")
    return out


def _apply(q: Sql, now: dt.datetime) -> dict[str, Any]:
    p = {"now": now}
    rejected_ack = "('R', 'M', 'W', 'X')"
    # Which of our submissions each rejected 999 set / group / TA1 answers.
    q.temp_table(
        "cf_ack_reject",
        f"""SELECT DISTINCT s.id AS submission_id, '999' AS source
            FROM acknowledgments a
            JOIN submissions s ON s.gs06 = a.acked_gs06 AND s.st02 = a.acked_st02
            JOIN interchanges i ON i.id = s.interchange_id AND i.direction = 'out'
            WHERE a.kind = '999_set' AND (a.accepted = false OR a.code IN {rejected_ack})
              AND (a.matched_interchange_id IS NULL OR a.matched_interchange_id = s.interchange_id)
              AND s.status = 'submitted'
            UNION
            SELECT DISTINCT s.id, '999'
            FROM acknowledgments a
            JOIN submissions s ON s.gs06 = a.acked_gs06
            JOIN interchanges i ON i.id = s.interchange_id AND i.direction = 'out'
            WHERE a.kind = '999_group' AND (a.accepted = false OR a.code IN {rejected_ack})
              AND (a.matched_interchange_id IS NULL OR a.matched_interchange_id = s.interchange_id)
              AND s.status = 'submitted'
            UNION
            SELECT DISTINCT s.id, 'TA1'
            FROM acknowledgments a
            JOIN interchanges i ON i.direction = 'out'
             AND (i.id = a.matched_interchange_id OR (a.matched_interchange_id IS NULL AND i.isa13 = a.acked_isa13))
            JOIN submissions s ON s.interchange_id = i.id
            WHERE a.kind = 'TA1' AND a.accepted = false AND s.status = 'submitted'""",
    )
    levels = _above_claim_level(q, p)
    rejected_999 = int(
        q.scalar("SELECT COUNT(DISTINCT submission_id) FROM cf_ack_reject WHERE source = '999'") or 0
    )
    rejected_ta1 = int(
        q.scalar("SELECT COUNT(DISTINCT submission_id) FROM cf_ack_reject WHERE source = 'TA1'") or 0
    )
    q.run("UPDATE submissions SET status = 'rejected' WHERE id IN (SELECT submission_id FROM cf_ack_reject)")

    # 277CA claim statuses: one verdict per (unapplied) patient control number; rejection wins.
    accept = sql_in(ACCEPT_CATEGORIES)
    reject = sql_in(REJECT_CATEGORIES)
    q.temp_table(
        "cf_ack_277",
        f"""SELECT s.id AS submission_id, s.claim_id AS claim_id,
                   MAX(CASE WHEN cs.category IN {reject} OR cs.accepted = false THEN 1 ELSE 0 END) AS rej,
                   MAX(CASE WHEN cs.category IN {accept} THEN 1 ELSE 0 END) AS acc,
                   MAX(CASE WHEN cs.category IN {accept} THEN cs.payer_claim_number END) AS payer_claim_number
            FROM claim_statuses cs
            JOIN submissions s ON s.patient_control_number = cs.patient_control_number
            WHERE cs.level = 'claim' AND cs.applied_at IS NULL
            GROUP BY s.id, s.claim_id
            ORDER BY s.id""",
    )
    verdict = "CASE WHEN v.rej = 1 THEN 'rejected' WHEN v.acc = 1 THEN 'accepted' END"
    accepted = int(q.scalar("SELECT COUNT(*) FROM cf_ack_277 v WHERE v.rej = 0 AND v.acc = 1") or 0)
    rejected = int(q.scalar("SELECT COUNT(*) FROM cf_ack_277 v WHERE v.rej = 1") or 0)
    ignored = int(q.scalar("SELECT COUNT(*) FROM cf_ack_277 v WHERE v.rej = 0 AND v.acc = 0") or 0)
    q.run(
        f"""UPDATE submissions SET status = {verdict.replace("v.", "cf_ack_277.")}
            FROM cf_ack_277
            WHERE cf_ack_277.submission_id = submissions.id AND (cf_ack_277.rej = 1 OR cf_ack_277.acc = 1)"""
    )
    q.run(
        """UPDATE claim_statuses SET claim_id = s.claim_id, applied_at = :now
           FROM submissions s
           WHERE s.patient_control_number = claim_statuses.patient_control_number
             AND claim_statuses.level = 'claim' AND claim_statuses.applied_at IS NULL""",
        p,
    )
    unmatched = q.run(
        "UPDATE claim_statuses SET applied_at = :now WHERE level = 'claim' AND applied_at IS NULL", p
    ).rowcount

    # Claims: the payer claim number of an accepting 277CA (REF*1K), and the status of their latest
    # attempt, within the lifecycle — decided in a temp table, then ONE update per claim. (Updating the same
    # claims twice in one transaction costs two row versions each, and PostgreSQL re-checks every foreign
    # key of a row this transaction already updated: 8.5 s for the two updates at 100,000 claims, 2.3 s
    # for the temp table and the one update.)
    # "Latest" is an anti-join on the (claim_id, attempt) index, not a join to MAX(attempt) over every
    # submission ever made, which PostgreSQL planned as a nested loop over the whole aggregate per claim
    # while tonight's submissions were not analyzed yet (quadratic: 60-200 s at 20,000 claims).
    latest = (
        "NOT EXISTS (SELECT 1 FROM submissions n WHERE n.claim_id = s.claim_id AND n.attempt > s.attempt)"
    )
    touched = (
        "(SELECT submission_id FROM cf_ack_reject UNION SELECT submission_id FROM cf_ack_277 "
        "WHERE rej = 1 OR acc = 1)"
    )
    q.temp_table(
        "cf_ack_claim",
        f"""SELECT c.id AS claim_id, MAX(x.payer_claim_number) AS payer_claim_number,
                   CASE WHEN MAX(x.status) = 'rejected' AND c.status IN {bind_in(sources_for(S.REJECTED))}
                        THEN {bind(S.REJECTED)}
                        WHEN MAX(x.status) = 'accepted' AND c.status IN {bind_in(sources_for(S.ACCEPTED))}
                        THEN {bind(S.ACCEPTED)} END AS new_status
            FROM (SELECT v.claim_id, v.payer_claim_number, NULL AS status
                  FROM cf_ack_277 v WHERE v.rej = 0 AND v.payer_claim_number IS NOT NULL
                  UNION ALL
                  SELECT s.claim_id, NULL, s.status
                  FROM submissions s
                  WHERE s.id IN {touched} AND s.status IN ('rejected', 'accepted') AND {latest}) x
            JOIN claims c ON c.id = x.claim_id
            GROUP BY c.id, c.status
            ORDER BY c.id""",
    )
    claims_rejected = int(
        q.scalar(f"SELECT COUNT(*) FROM cf_ack_claim WHERE new_status = {bind(S.REJECTED)}") or 0
    )
    claims_accepted = int(
        q.scalar(f"SELECT COUNT(*) FROM cf_ack_claim WHERE new_status = {bind(S.ACCEPTED)}") or 0
    )
    q.run(
        """UPDATE claims SET payer_claim_number = COALESCE(v.payer_claim_number, claims.payer_claim_number),
                             status = COALESCE(v.new_status, claims.status),
                             status_changed_at = CASE WHEN v.new_status IS NULL THEN claims.status_changed_at
                                                      ELSE :now END
           FROM cf_ack_claim v
           WHERE v.claim_id = claims.id AND (v.payer_claim_number IS NOT NULL OR v.new_status IS NOT NULL)""",
        p,
    )
    q.drop("cf_ack_reject", "cf_ack_277", "cf_ack_claim")
    return {
        "accepted": accepted,
        "rejected": rejected
        + rejected_999
        + rejected_ta1
        + levels["rejected_277ca_batch"]
        + levels["rejected_277ca_provider"],
        "rejected_277ca": rejected,
        **levels,
        "rejected_999": rejected_999,
        "rejected_ta1": rejected_ta1,
        "unmatched": unmatched,
        "ignored": ignored,
        "claims_accepted": claims_accepted,
        "claims_rejected": claims_rejected,
    }

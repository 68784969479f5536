"""adjudication: what happens to our claims after they leave — set-based, on SQLite and PostgreSQL.

* :mod:`~adjudication.acks` — TA1 / 999 / 277CA acknowledgments → submissions and claims accepted/rejected.
* :mod:`~adjudication.posting` — stored 835s → matched claims, claim statuses, the double-entry ledger.
* :mod:`~adjudication.patient_payments` — patient payment CSV import, credits, refunds due.
* :mod:`~adjudication.writeoffs` — small-balance and bad-debt write-offs.
* :mod:`~adjudication.reconcile` — the nightly as-of snapshot, aging, KPIs, balance proof, data quality.
* :mod:`~adjudication.report` — the self-contained HTML run report.
* :mod:`~adjudication.ledger` (accounts and txn_key scheme), :mod:`~adjudication.lifecycle` (claim
  statuses), :mod:`~adjudication.carc` (CARC categories), :mod:`~adjudication.errors`.
"""

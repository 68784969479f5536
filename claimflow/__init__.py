"""claimflow's application shell: what runs the domain packages (``edi``, ``parsers``, ``eob``, ``sftp``,
``adjudication``) against a database, a clearinghouse and people.

Where things live (each layer imports only the ones listed before it; ``tests/quality/test_layers.py``):

* ``settings``, ``errors`` — the one settings object and the typed base errors;
* :mod:`claimflow.db` — storage: models, sessions, migrations entry, audit log, control numbers, patient keys;
* :mod:`claimflow.services` — the nightly work the DAG tasks call: ``pipeline`` (one function per task),
  ``outbound`` (scrub, batch, 837s), ``exchange`` and ``inbound`` (fetch, archive, load), ``claims_loader``,
  the analyst views, work-queue settings, progress and webhooks;
* :mod:`claimflow.inquiries` — questions to payers: eligibility (batch and real-time), the eligibility hold,
  claim status, prior authorizations;
* :mod:`claimflow.followup` — work after the payer answered: secondary claims, corrections/voids, appeals;
* :mod:`claimflow.statements` — patient statements;
* :mod:`claimflow.sandbox` — development tools: the sandbox clearinghouse (SFTP server + payer simulator), the
  synthetic practice (``seed``, ``synthetic``), ``claimflow demo`` and the local CeleryExecutor cluster;
* :mod:`claimflow.cli` and :mod:`claimflow.console` — the ``claimflow`` command and the web console;
* ``migrations`` — Alembic revisions.
"""

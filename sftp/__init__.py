"""Clearinghouse exchange over SFTP (paramiko only; never airflow, sqlalchemy or the claimflow shell).

* :mod:`sftp.partner`  — ``PartnerProfile``; from env vars or an Airflow connection's parts
* :mod:`sftp.connect`  — ``open_sftp(profile)``: pinned host key, key auth, timeouts, typed errors
* :mod:`sftp.transfer` — ``upload`` / ``upload_many`` / ``fetch_new`` on a connected ``SFTPClient``;
  ``FetchLedger`` protocol and ``JsonFileLedger``
* :mod:`sftp.retry`    — ``retry_call`` with backoff + jitter + total bound; ``is_retryable``
* :mod:`sftp.names`    — remote name safety (``check_remote_name``) and temp names
* :mod:`sftp.isa`      — every interchange's ISA header (sender, receiver, ISA15) before an upload
* :mod:`sftp.keys`     — ed25519 key generation, public key / known_hosts lines, key loading
* :mod:`sftp.errors`   — ``SFTPError`` and its typed subclasses
"""

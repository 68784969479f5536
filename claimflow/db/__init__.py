"""Storage: models, engine/session helpers, migrations entry, audit log, control numbers, patient keys,
file permissions at rest."""

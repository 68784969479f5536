"""claimflow's database: models, engine/session helpers, migrations entry points."""

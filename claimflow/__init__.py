"""claimflow."""

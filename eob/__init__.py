"""EOB records built from 835 claim payments: CAS buckets (one rule, :mod:`eob.cas`), CARC/RARC
descriptions, balancing checks."""

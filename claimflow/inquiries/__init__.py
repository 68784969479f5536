"""Questions to payers before and around a claim: eligibility (270/271, batch and real-time CORE),
the eligibility hold, claim status (276/277) and prior authorizations."""

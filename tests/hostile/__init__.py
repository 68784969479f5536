"""Hostile inputs: a generated corpus of malformed files and property-based fuzzing of the readers."""

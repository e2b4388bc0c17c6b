"""Audit trail: a BALP-shaped AuditEvent for every interaction with a person's data."""

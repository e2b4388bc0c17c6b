"""The access gate: the one place where a person's data is released or withheld.

``Gate`` (gate.py) sits on the request path between the store and the response: it builds
the pure consent engine's inputs from the store (consents, compartments, authors,
break-glass grants), calls ``hub.consent.engine.decide``, and records every decision for the
audit trail (``hub.audit``). See README.md beside this file.
"""

"""The ledger's I/O edge: tables, appends, checkpoints, proofs, verification, CLI and HTTP.

The pure core (hashing, proofs, notes) is ``hub.ledger``'s top-level modules; everything that
touches the database, files, the clock or Flask lives here (see ``hub/ledger/README.md``).
"""

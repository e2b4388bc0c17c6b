"""Pure FHIR core: errors, codes, FHIRPath subset, search parameters, indexing, validation.

Nothing in this package imports Flask or SQLAlchemy (see README.md beside this file).
"""

"""Storage: versioned FHIR resources and their search index in one SQLAlchemy schema."""

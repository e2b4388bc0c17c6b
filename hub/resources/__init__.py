"""FHIR REST: interactions, search, bundles, CapabilityStatement, and the Flask edge."""

"""The base's workflows: conformance resources (profiles/jp-hub) and monitoring schedules."""

"""Records hub for Japan's community living support bases (地域生活支援拠点等).

A FHIR R4 server (``hub.resources``) over a versioned store (``hub.store``), with SMART Backend
Services auth (``hub.auth``) and a consent gate with a tamper-evident ledger (``hub.consent``).
"""

__version__ = "0.1.0"

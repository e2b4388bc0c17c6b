"""The consent gate's pure core: FHIR Consent → decisions. See README.md beside this file."""

from hub.consent.codes import (
    ConsentAction,
    ConsentDataMeaning,
    ConsentScope,
    ConsentStatus,
    DecisionRule,
    ProvisionType,
    PurposeOfUse,
)
from hub.consent.engine import (
    NOT_GATED,
    AccessRequest,
    BreakGlass,
    Decision,
    applicable_consents,
    decide,
    may_see_patient,
)
from hub.consent.model import Actor, ConsentRecord, DataRef, Provision, parse_consent

__all__ = [
    "NOT_GATED",
    "AccessRequest",
    "Actor",
    "BreakGlass",
    "ConsentAction",
    "ConsentDataMeaning",
    "ConsentRecord",
    "ConsentScope",
    "ConsentStatus",
    "DataRef",
    "Decision",
    "DecisionRule",
    "Provision",
    "ProvisionType",
    "PurposeOfUse",
    "applicable_consents",
    "decide",
    "may_see_patient",
    "parse_consent",
]

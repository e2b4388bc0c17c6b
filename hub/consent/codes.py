"""Codes of the consent engine, as ``StrEnum``s (the style of :mod:`hub.fhir.codes`).

FHIR R4 Consent: http://hl7.org/fhir/R4/consent.html. ``DecisionRule`` is the hub's own: the
name of the rule that decided a request, logged with every decision.
"""

from enum import StrEnum

#: http://hl7.org/fhir/R4/v3/ActReason/cs.html — the system of Consent.provision.purpose
PURPOSE_OF_USE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#: http://hl7.org/fhir/R4/codesystem-consentaction.html — Consent.provision.action
CONSENT_ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"
#: http://hl7.org/fhir/R4/codesystem-consentscope.html — Consent.scope
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
#: http://hl7.org/fhir/R4/codesystem-resource-types.html — Consent.provision.class
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
#: The hub's extension on an emergency contact (RelatedPerson): valueBoolean true when the
#: contact's own agreement to be listed is recorded (緊急時利用登録届, 別紙3)
CONTACT_AGREEMENT_EXTENSION = (
    "https://community-support-hub.example/fhir/StructureDefinition/contact-agreement"
)


class ConsentStatus(StrEnum):
    """http://hl7.org/fhir/R4/valueset-consent-state-codes.html"""

    DRAFT = "draft"
    PROPOSED = "proposed"
    ACTIVE = "active"
    REJECTED = "rejected"
    INACTIVE = "inactive"
    ENTERED_IN_ERROR = "entered-in-error"


class ConsentScope(StrEnum):
    """http://hl7.org/fhir/R4/valueset-consent-scope.html"""

    ADR = "adr"
    RESEARCH = "research"
    PATIENT_PRIVACY = "patient-privacy"
    TREATMENT = "treatment"


class ProvisionType(StrEnum):
    """http://hl7.org/fhir/R4/valueset-consent-provision-type.html"""

    DENY = "deny"
    PERMIT = "permit"


class ConsentDataMeaning(StrEnum):
    """http://hl7.org/fhir/R4/valueset-consent-data-meaning.html"""

    INSTANCE = "instance"
    RELATED = "related"
    DEPENDENTS = "dependents"
    AUTHOREDBY = "authoredby"


class ConsentAction(StrEnum):
    """http://hl7.org/fhir/R4/valueset-consent-action.html (system :data:`CONSENT_ACTION_SYSTEM`)"""

    COLLECT = "collect"
    ACCESS = "access"
    USE = "use"
    DISCLOSE = "disclose"
    CORRECT = "correct"


class PurposeOfUse(StrEnum):
    """HL7 v3 ActReason codes of the PurposeOfUse value set that the hub uses.

    http://terminology.hl7.org/ValueSet/v3-PurposeOfUse, system :data:`PURPOSE_OF_USE_SYSTEM`.
    """

    TREAT = "TREAT"  # treatment
    ETREAT = "ETREAT"  # emergency treatment — the purpose of break-glass
    CAREMGT = "CAREMGT"  # care management (相談支援, service coordination)
    COC = "COC"  # coordination of care
    HOPERAT = "HOPERAT"  # healthcare operations
    HPAYMT = "HPAYMT"  # healthcare payment (給付費の請求)
    PUBHLTH = "PUBHLTH"  # public health
    HRESCH = "HRESCH"  # healthcare research
    BTG = "BTG"  # break the glass (as an audit purpose)
    PATRQT = "PATRQT"  # patient requested
    FAMRQT = "FAMRQT"  # family requested
    PWATRNY = "PWATRNY"  # power of attorney (guardian)
    HSYSADMIN = "HSYSADMIN"  # system administration
    SYSDEV = "SYSDEV"  # system development
    HLEGAL = "HLEGAL"  # legal


class DecisionRule(StrEnum):
    """The rule that decided an access request (logged with every decision)."""

    #: the caller's organization wrote the record (custodian): always permitted
    AUTHOR = "author"
    #: a permit provision of a counting consent matched
    CONSENT_PERMIT = "consent-permit"
    #: an explicit deny provision of a counting consent matched (wins over any permit)
    CONSENT_DENY = "consent-deny"
    #: the catch-all root deny of a counting consent ("deny all but the exceptions below")
    CONSENT_DEFAULT_DENY = "consent-default-deny"
    #: consents count for the patient, but none of their root provisions matched the request
    NO_MATCHING_CONSENT = "no-matching-consent"
    #: no consent counts for the patient (or there is no patient): base deny
    NO_CONSENT = "no-consent"
    #: an emergency contact (RelatedPerson) whose own agreement is not recorded
    CONTACT_NOT_AGREED = "contact-not-agreed"
    #: emergency access (ETREAT) by a client with the break-glass power, over a deny
    BREAK_GLASS = "break-glass"
    #: break-glass was asked for but not granted; the underlying deny stands
    BREAK_GLASS_REFUSED = "break-glass-refused"
    #: directory data (outside the Patient compartment): gated by scopes only, not consent.
    #: ``decide`` never returns it; callers use :data:`hub.consent.engine.NOT_GATED`.
    NOT_GATED = "not-gated"

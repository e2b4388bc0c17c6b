"""FHIR R4 codes the hub uses, as ``StrEnum``s (http://hl7.org/fhir/R4/terminologies.html)."""

from enum import StrEnum


class IssueSeverity(StrEnum):
    """http://hl7.org/fhir/R4/valueset-issue-severity.html"""

    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"


class IssueType(StrEnum):
    """http://hl7.org/fhir/R4/valueset-issue-type.html (the codes the hub emits)."""

    INVALID = "invalid"
    STRUCTURE = "structure"
    REQUIRED = "required"
    VALUE = "value"
    INVARIANT = "invariant"
    SECURITY = "security"
    LOGIN = "login"
    FORBIDDEN = "forbidden"
    PROCESSING = "processing"
    NOT_SUPPORTED = "not-supported"
    DUPLICATE = "duplicate"
    MULTIPLE_MATCHES = "multiple-matches"
    NOT_FOUND = "not-found"
    DELETED = "deleted"
    CONFLICT = "conflict"
    EXCEPTION = "exception"
    INFORMATIONAL = "informational"
    SUPPRESSED = "suppressed"
    TOO_COSTLY = "too-costly"


class Interaction(StrEnum):
    """RESTful interactions, http://hl7.org/fhir/R4/http.html (codes of restful-interaction)."""

    READ = "read"
    VREAD = "vread"
    UPDATE = "update"
    PATCH = "patch"
    DELETE = "delete"
    HISTORY_INSTANCE = "history-instance"
    HISTORY_TYPE = "history-type"
    HISTORY_SYSTEM = "history-system"
    CREATE = "create"
    SEARCH_TYPE = "search-type"
    SEARCH_SYSTEM = "search-system"
    CAPABILITIES = "capabilities"
    TRANSACTION = "transaction"
    BATCH = "batch"
    OPERATION = "operation"


class SearchParamType(StrEnum):
    """http://hl7.org/fhir/R4/valueset-search-param-type.html"""

    NUMBER = "number"
    DATE = "date"
    STRING = "string"
    TOKEN = "token"
    REFERENCE = "reference"
    COMPOSITE = "composite"
    QUANTITY = "quantity"
    URI = "uri"
    SPECIAL = "special"


class BundleType(StrEnum):
    """http://hl7.org/fhir/R4/valueset-bundle-type.html"""

    DOCUMENT = "document"
    MESSAGE = "message"
    TRANSACTION = "transaction"
    TRANSACTION_RESPONSE = "transaction-response"
    BATCH = "batch"
    BATCH_RESPONSE = "batch-response"
    HISTORY = "history"
    SEARCHSET = "searchset"
    COLLECTION = "collection"


class SearchEntryMode(StrEnum):
    """http://hl7.org/fhir/R4/valueset-search-entry-mode.html"""

    MATCH = "match"
    INCLUDE = "include"
    OUTCOME = "outcome"


class HttpVerb(StrEnum):
    """http://hl7.org/fhir/R4/valueset-http-verb.html"""

    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"
    PATCH = "PATCH"


class PreferReturn(StrEnum):
    """``Prefer: return=…``, http://hl7.org/fhir/R4/http.html#ops"""

    MINIMAL = "minimal"
    REPRESENTATION = "representation"
    OPERATION_OUTCOME = "OperationOutcome"

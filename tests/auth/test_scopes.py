"""SMART scopes: grammar, v1 equivalents, narrowing, and the scope × interaction matrix.

The matrix runs through ``SmartContext.authorize`` with the real ``Route`` objects of
``hub.resources.routes.ROUTES`` — the same call ``dispatch`` makes for every HTTP request and
every Bundle entry — for every route and every combination of scope letters.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.auth.context import SmartContext
from hub.auth.needs import needs, resource_categories, unmet
from hub.auth.scopes import (
    Granular,
    Letter,
    Scope,
    ScopeContext,
    ScopeError,
    TokenValue,
    covers,
    parse_scope,
    parse_scopes,
)
from hub.fhir.codes import Interaction
from hub.fhir.errors import FhirError
from hub.resources.request import FhirRequest
from hub.resources.routes import ROUTES, Route

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
VITALS = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"

# Grammar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rtype", "letters"),
    [
        ("system/Patient.rs", "Patient", "rs"),
        ("system/*.cruds", "*", "cruds"),
        ("system/Observation.c", "Observation", "c"),
        ("system/Patient.cud", "Patient", "cud"),
        ("system/Patient.read", "Patient", "rs"),  # v1 equivalents (SMART 2.x)
        ("system/Patient.write", "Patient", "cud"),
        ("system/Patient.*", "Patient", "cruds"),
        ("system/*.read", "*", "rs"),
        ("patient/Observation.rs", "Observation", "rs"),
        ("user/Encounter.d", "Encounter", "d"),
    ],
)
def test_parse_valid(text: str, rtype: str, letters: str) -> None:
    scope = parse_scope(text)
    assert scope.resource_type == rtype
    assert scope.letters == {Letter(ch) for ch in letters}
    assert scope.categories is None
    assert scope.raw == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "openid",
        "launch/patient",
        "offline_access",
        "system/Patient",
        "system/Patient.",
        "system/Patient.sr",  # letters out of order
        "system/Patient.rr",
        "system/Patient.x",
        "system/patient.rs",  # type must be a resource type
        "admin/Patient.rs",
        "system/Patient.READ",
        "system/Observation.rs?code=1234",  # only category may restrict
        "system/Observation.rs?category=",
        "system/Observation.rs?category=a&category=b",
        "system/Observation.read?category=laboratory",  # granular needs v2 letters
        " system/Patient.rs",
    ],
)
def test_parse_invalid(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_parse_granular() -> None:
    scope = parse_scope(f"system/Observation.rs?category={LAB}")
    assert scope.categories == {TokenValue(OBS_CAT, "laboratory")}
    both = parse_scope(f"system/Observation.rs?category={LAB},{VITALS}")
    assert both.categories is not None and len(both.categories) == 2
    encoded = parse_scope("system/Observation.rs?category=http%3A%2F%2Fx%7Clab")
    assert encoded.categories == {TokenValue("http://x", "lab")}
    any_system = parse_scope("system/Observation.rs?category=laboratory")
    assert any_system.categories == {TokenValue(None, "laboratory")}


def test_canonical_form_and_parse_scopes() -> None:
    assert str(parse_scope("system/Patient.read")) == "system/Patient.rs"
    assert str(parse_scope("system/*.*")) == "system/*.cruds"
    assert str(parse_scope(f"system/Observation.rs?category={LAB}")) == (
        f"system/Observation.rs?category={LAB}"
    )
    scopes = parse_scopes("system/Patient.rs  system/Patient.rs system/Observation.c")
    assert [s.raw for s in scopes] == ["system/Patient.rs", "system/Observation.c"]
    assert parse_scopes("") == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sys|code", TokenValue("sys", "code")),
        ("|code", TokenValue("", "code")),
        ("code", TokenValue(None, "code")),
        ("sys|", None),
        ("a\\|b|c", TokenValue("a|b", "c")),
        ("a|b|c", None),
    ],
)
def test_token_value(raw: str, expected: TokenValue | None) -> None:
    assert TokenValue.parse(raw) == expected


def test_token_value_coverage() -> None:
    lab = TokenValue(OBS_CAT, "laboratory")
    assert TokenValue(None, "laboratory").covers(lab)
    assert lab.covers(lab)
    assert not lab.covers(TokenValue(None, "laboratory"))  # "any system" is wider
    assert not lab.covers(TokenValue("other", "laboratory"))
    assert lab.matches(OBS_CAT, "laboratory")
    assert not lab.matches(None, "laboratory")
    assert TokenValue("", "x").matches(None, "x")


# Hypothesis: the grammar round-trips and v1 = v2 --------------------------------------------

letter_sets = st.sets(st.sampled_from("cruds"), min_size=1)
types = st.sampled_from(["*", "Patient", "Observation", "CarePlan", "Consent"])


def _letters(chosen: set[str]) -> str:
    return "".join(ch for ch in "cruds" if ch in chosen)


@given(letter_sets, types)
def test_v2_round_trip(chosen: set[str], rtype: str) -> None:
    text = f"system/{rtype}.{_letters(chosen)}"
    scope = parse_scope(text)
    assert str(scope) == text
    assert {str(ch) for ch in scope.letters} == chosen


@given(st.permutations("cruds"), st.integers(min_value=2, max_value=5))
def test_out_of_order_letters_rejected(perm: list[str], n: int) -> None:
    letters = "".join(perm[:n])
    if letters == _letters(set(letters)):
        return
    with pytest.raises(ScopeError):
        parse_scope(f"system/Patient.{letters}")


@given(st.sampled_from(["read", "write", "*"]), types)
def test_v1_equals_v2(v1: str, rtype: str) -> None:
    v2 = {"read": "rs", "write": "cud", "*": "cruds"}[v1]
    assert parse_scope(f"system/{rtype}.{v1}") == parse_scope(f"system/{rtype}.{v2}")


@given(letter_sets, letter_sets, types)
def test_covers_is_letter_subset(allowed: set[str], wanted: set[str], rtype: str) -> None:
    a = parse_scope(f"system/{rtype}.{_letters(allowed)}")
    w = parse_scope(f"system/{rtype}.{_letters(wanted)}")
    assert covers([a], w) == (wanted <= allowed)
    wildcard = parse_scope(f"system/*.{_letters(allowed)}")
    assert covers([wildcard], w) == (wanted <= allowed)


@given(letter_sets)
def test_covers_never_widens_type_or_context(chosen: set[str]) -> None:
    letters = _letters(chosen)
    assert not covers(
        [parse_scope(f"system/Patient.{letters}")], parse_scope(f"system/*.{letters}")
    )
    assert not covers(
        [parse_scope(f"system/Patient.{letters}")], parse_scope(f"system/Observation.{letters}")
    )
    assert not covers(
        [parse_scope(f"patient/Patient.{letters}")], parse_scope(f"system/Patient.{letters}")
    )


def test_covers_union_and_granular() -> None:
    allowed = [parse_scope("system/Patient.r"), parse_scope("system/Patient.s")]
    assert covers(allowed, parse_scope("system/Patient.rs"))
    gran = parse_scope(f"system/Observation.rs?category={LAB}")
    assert covers([parse_scope("system/Observation.rs")], gran)
    assert covers([gran], gran)
    assert not covers([gran], parse_scope("system/Observation.rs"))
    assert not covers([gran], parse_scope(f"system/Observation.rs?category={LAB},{VITALS}"))
    any_lab = parse_scope("system/Observation.rs?category=laboratory")
    assert covers([any_lab], gran)
    assert not covers([gran], any_lab)


# The matrix: every route × every combination of letters --------------------------------------

#: What each route needs, written out independently of hub.auth.scopes (SMART 2.x letters:
#: c create, r read/vread/history, u update/patch, d delete, s search; conditional forms also
#: need s; a conditional update may create, so it needs c as well). ``None``: public or
#: checked per Bundle entry.
EXPECTED: dict[str, set[str] | None] = {
    "capabilities": None,
    "bundle": None,
    "history-system": {"r"},  # on "*"
    "search-type": {"s"},
    "search-type-post": {"s"},
    "create": {"c"},
    "conditional-update": {"u", "s", "c"},
    "conditional-patch": {"u", "s"},
    "conditional-delete": {"d", "s"},
    "history-type": {"r"},
    "read": {"r"},
    "update": {"u"},
    "patch": {"u"},
    "delete": {"d"},
    "history-instance": {"r"},
    "vread": {"r"},
    "everything": {"r", "s"},  # r on Patient, s on "*" (any compartment type)
    "break-glass": {"r"},
    "break-glass-queue": {"r"},  # on "*" (and the privacy-officer flag)
    "break-glass-review": {"r"},  # on "*" (and the privacy-officer flag)
    "register": {"c", "u"},  # on Patient; each written entry is checked for its own type
    "monitoring-due": {"s"},  # a search of the type it runs on (Task)
    # r on Patient, u on EpisodeOfCare and Consent, c on Communication
    "share-registration": {"r", "u", "c"},
    "health-certificate": {"r", "s"},  # r on Patient, s on QuestionnaireResponse
}

#: routes whose scope is on every type, or on types besides Patient: a Patient-only scope
#: does not grant them
SYSTEM_WIDE = (
    "history-system",
    "everything",
    "break-glass-queue",
    "break-glass-review",
    "share-registration",
    "health-certificate",
)

ALL_LETTER_SETS = [set(combo) for n in range(1, 6) for combo in itertools.combinations("cruds", n)]


def _request(route: Route, resource_type: str = "Patient", **kw: Any) -> FhirRequest:
    req = FhirRequest(method=route.method, base="http://hub.test/fhir", **kw)
    if "<rtype:resource_type>" in route.rule:
        req.resource_type = resource_type
    if "<fid:res_id>" in route.rule:
        req.res_id = "p1"
    if "<vid>" in route.rule:
        req.version_id = "1"
    if route.method in ("POST", "PUT") and route.endpoint not in ("bundle", "search-type-post"):
        req.body = {"resourceType": resource_type, "id": "p1"}
    if route.method == "PATCH":
        req.body = [{"op": "replace", "path": "/active", "value": True}]
    if route.endpoint.startswith("conditional-"):
        req.params = [("identifier", "x|1")]
    return req


class _Existing:
    """Stands in for the database: the addressed resource exists."""

    def targets(self, rtype: str, code: str) -> tuple[str, ...]:
        return ()

    def stored(self, rtype: str | None, rid: str | None) -> dict[str, Any] | None:
        return {"resourceType": rtype, "id": rid}


def _context(scope: str) -> SmartContext:
    return SmartContext(
        client_id="c1",
        organization="Organization/o1",
        scopes=parse_scopes(scope),
        purpose_of_use=None,
        token_id=1,
        break_glass=False,
        privacy_officer=False,
        lookup=_Existing(),  # type: ignore[arg-type]
    )


def _permitted(ctx: SmartContext, route: Route, req: FhirRequest) -> bool:
    try:
        ctx.authorize(route, req)
    except FhirError as err:
        assert err.status == 403
        return False
    return True


def test_matrix_covers_every_route() -> None:
    missing = {r.endpoint for r in ROUTES} - set(EXPECTED)
    assert not missing, f"a new route needs its row in the scope matrix: {missing}"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.endpoint)
@pytest.mark.parametrize("letters", ALL_LETTER_SETS, ids=_letters)
def test_scope_letter_interaction_matrix(route: Route, letters: set[str]) -> None:
    expected = EXPECTED[route.endpoint]
    own = _letters(letters)
    for scope in (f"system/*.{own}", f"system/Patient.{own}"):
        ok = _permitted(_context(scope), route, _request(route))
        if expected is None:
            assert ok, (route.endpoint, scope)
        elif route.endpoint in SYSTEM_WIDE and "Patient" in scope:
            assert not ok, "needs a letter on every type (system/*.…)"
        else:
            assert ok == (expected <= letters), (route.endpoint, scope)
    # a scope for another type never grants anything on Patient
    other = _permitted(_context(f"system/Observation.{own}"), route, _request(route))
    assert other == (expected is None), route.endpoint


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.endpoint)
def test_patient_and_user_scopes_grant_nothing(route: Route) -> None:
    for ctx in ("patient", "user"):
        ok = _permitted(_context(f"{ctx}/*.cruds"), route, _request(route))
        assert ok == (EXPECTED[route.endpoint] is None)


def test_forbidden_names_the_missing_scope() -> None:
    route = next(r for r in ROUTES if r.endpoint == "create")
    with pytest.raises(FhirError) as info:
        _context("system/Patient.rs").authorize(route, _request(route))
    assert info.value.status == 403
    assert "system/Patient.c" in info.value.outcome["issue"][0]["diagnostics"]
    assert 'scope="system/Patient.c"' in info.value.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in info.value.headers["WWW-Authenticate"]


# Update-as-create, includes, chains ---------------------------------------------------------


def test_update_of_a_new_id_needs_create() -> None:
    required = needs(Interaction.UPDATE, "Patient", "new", body={"resourceType": "Patient"})
    u_only = parse_scopes("system/Patient.u")
    assert unmet(u_only, required, lambda: {"resourceType": "Patient"}) is None
    missing = unmet(u_only, required, lambda: None)
    assert missing is not None and missing.scope == "system/Patient.c"
    assert unmet(parse_scopes("system/Patient.cu"), required, lambda: None) is None


def _targets(rtype: str, code: str) -> tuple[str, ...]:
    return {
        ("Observation", "subject"): ("Patient", "Group"),
        ("Observation", "performer"): ("Practitioner",),
    }.get((rtype, code), ())


@pytest.mark.parametrize(
    ("params", "extra_types"),
    [
        ([("_include", "Observation:subject:Patient")], {"Patient"}),
        ([("_include", "Observation:subject")], {"Patient", "Group"}),
        ([("_include:iterate", "Observation:performer")], {"Practitioner"}),
        ([("_revinclude", "Provenance:target")], {"Provenance"}),
        ([("_revinclude:iterate", "AuditEvent:entity")], {"AuditEvent"}),
        ([("subject:Patient.name", "yamada")], {"Patient"}),
        ([("subject.name", "yamada")], {"Patient", "Group"}),
        ([("_has:Provenance:target:agent", "x")], {"Provenance"}),
        ([("_include", "*")], {"*"}),
        ([("code", "1234"), ("_count", "5")], set()),
    ],
)
def test_search_needs_s_on_every_type_it_returns(
    params: list[tuple[str, str]], extra_types: set[str]
) -> None:
    required = needs(Interaction.SEARCH_TYPE, "Observation", None, params, targets=_targets)
    assert {n.resource_type for n in required if n.resource_type != "Observation"} == (
        extra_types - {"Observation"}
    )
    assert all(n.letter is Letter.SEARCH for n in required)
    own = parse_scopes("system/Observation.rs")
    if extra_types - {"Observation"}:
        missing = unmet(own, required)
        assert missing is not None and missing.letter is Letter.SEARCH
        assert unmet(parse_scopes("system/*.s"), required) is None
    else:
        assert unmet(own, required) is None


def test_conditional_create_needs_search() -> None:
    required = needs(
        Interaction.CREATE,
        "Patient",
        None,
        if_none_exist="identifier=x|1",
        body={"resourceType": "Patient"},
    )
    missing = unmet(parse_scopes("system/Patient.c"), required)
    assert missing is not None and missing.scope == "system/Patient.s"
    assert unmet(parse_scopes("system/Patient.cs"), required) is None


# Granular (category) scopes ----------------------------------------------------------------


def _obs(*codes: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "category": [{"coding": [{"system": OBS_CAT, "code": c}]} for c in codes],
    }


GRAN = parse_scopes(f"system/Observation.crus?category={LAB}")


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ([("category", LAB)], True),
        ([("category", LAB), ("code", "1234")], True),
        ([("category", f"{LAB},{VITALS}")], False),
        ([("category", "laboratory")], False),  # any system: wider than the scope
        ([("category:not", LAB)], False),
        ([("code", "1234")], False),
        ([], False),
        ([("category", VITALS), ("category", LAB)], True),  # ANDed: still within
        ([("category", LAB), ("_include", "Observation:subject:Patient")], False),
    ],
)
def test_granular_search(params: list[tuple[str, str]], ok: bool) -> None:
    required = needs(Interaction.SEARCH_TYPE, "Observation", None, params, targets=_targets)
    assert (unmet(GRAN, required) is None) == ok


def test_granular_scope_without_system() -> None:
    scopes = parse_scopes("system/Observation.rs?category=laboratory")
    for value in (LAB, "laboratory", "|laboratory", "http://other|laboratory"):
        required = needs(Interaction.SEARCH_TYPE, "Observation", None, [("category", value)])
        assert unmet(scopes, required) is None, value


@pytest.mark.parametrize(
    ("interaction", "res_id", "body", "stored", "ok"),
    [
        (Interaction.READ, "o1", None, _obs("laboratory"), True),
        (Interaction.READ, "o1", None, _obs("vital-signs"), False),
        (Interaction.READ, "o1", None, _obs("vital-signs", "laboratory"), True),
        (Interaction.READ, "o1", None, {"resourceType": "Observation"}, False),
        (Interaction.READ, "o1", None, None, True),  # unknown: the read answers 404
        (Interaction.CREATE, None, _obs("laboratory"), None, True),
        (Interaction.CREATE, None, _obs("vital-signs"), None, False),
        (Interaction.UPDATE, "o1", _obs("laboratory"), _obs("laboratory"), True),
        (Interaction.UPDATE, "o1", _obs("laboratory"), _obs("vital-signs"), False),
        (Interaction.UPDATE, "o1", _obs("vital-signs"), _obs("laboratory"), False),
        (Interaction.UPDATE, "o2", _obs("laboratory"), None, True),  # granular c too
        (Interaction.VREAD, "o1", None, _obs("laboratory"), False),
        (Interaction.HISTORY_INSTANCE, "o1", None, _obs("laboratory"), False),
        (
            Interaction.PATCH,
            "o1",
            [{"op": "add", "path": "/status", "value": "final"}],
            _obs("laboratory"),
            True,
        ),
        (
            Interaction.PATCH,
            "o1",
            [{"op": "add", "path": "/category/0", "value": {}}],
            _obs("laboratory"),
            False,
        ),
        (
            Interaction.PATCH,
            "o1",
            [{"op": "add", "path": "/status", "value": "final"}],
            _obs("vital-signs"),
            False,
        ),
        (Interaction.DELETE, "o1", None, _obs("laboratory"), False),  # no d in the scope
    ],
)
def test_granular_resource_checks(
    interaction: Interaction, res_id: str | None, body: Any, stored: Any, ok: bool
) -> None:
    required = needs(interaction, "Observation", res_id, body=body)
    assert (unmet(GRAN, required, lambda: stored) is None) == ok


def test_unrestricted_scope_never_reads_the_store() -> None:
    def boom() -> None:
        raise AssertionError("no lookup needed")

    required = needs(Interaction.READ, "Observation", "o1")
    assert unmet(parse_scopes("system/Observation.r"), required, boom) is None


def test_resource_categories_shapes() -> None:
    assert resource_categories(_obs("a", "b")) == [(OBS_CAT, "a"), (OBS_CAT, "b")]
    allergy = {"resourceType": "AllergyIntolerance", "category": ["food"]}
    assert resource_categories(allergy) == [(None, "food")]
    single = {"category": {"coding": [{"system": "s", "code": "c"}]}}
    assert resource_categories(single) == [("s", "c")]
    assert resource_categories({}) == []


def test_need_granular_modes() -> None:
    (read,) = needs(Interaction.READ, "Observation", "o1")
    assert read.granular is Granular.RESOURCE and read.stored
    (vread,) = needs(Interaction.VREAD, "Observation", "o1")
    assert vread.granular is Granular.NEVER
    assert needs(Interaction.CAPABILITIES, None) == ()
    assert needs(Interaction.TRANSACTION, None) == ()
    full = needs(Interaction.OPERATION, "Patient", "p1")
    assert {n.letter for n in full} == set(Letter) and {n.resource_type for n in full} == {"*"}


def test_scope_dataclass_permits() -> None:
    scope = Scope(ScopeContext.SYSTEM, "*", frozenset({Letter.READ}))
    assert scope.permits(Letter.READ, "Patient")
    assert not scope.permits(Letter.SEARCH, "Patient")

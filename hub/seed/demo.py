"""``hub demo``: the hub doing its job, told through the real HTTP API.

Seeds the municipality (if needed), starts ``hub serve`` in a subprocess with tokens required,
and walks the story with the seeded clients' own tokens (SMART Backend Services,
``hub.seed.token``), printing each step:

(a) a short-stay provider named in a person's consent reads the person → 200;
(b) a short-stay provider the consent does not name → 404 (README "Consent": a refusal
    answers like an unknown id);
(c) the consultation office withdraws the consent (``status`` inactive) → (a)'s read is now
    refused;
(d) the hospital's emergency client (break-glass flag, ETREAT token) is refused, calls
    ``Patient/{id}/$break-glass`` with a reason, then reads → 200; the grant waits on the
    privacy officers' review queue;
(e) the privacy officer lists the accesses to the person (``AuditEvent?patient=``: who,
    when, purpose, outcome, the consent that decided), checks the signed ledger checkpoint
    against the published key and runs ``hub ledger verify``.

Every step is also a check: :func:`run_demo` returns 1 if any did not behave as expected.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.config import Settings
from hub.seed.clients import SeedClient, read_clients
from hub.seed.municipality import Municipality, OrgKind
from hub.seed.municipality import load as load_municipality
from hub.seed.people import ConsentVariant, Person, person
from hub.seed.token import fetch_token

REASON = "救急搬送。意識レベルが低下しており、既往歴・服薬・医療的ケアの確認が必要"
EMERGENCY_CLIENT = "hospital-midorino"


@dataclass
class Reply:
    status: int
    body: Any
    text: str


def http(method: str, url: str, token: str | None = None, body: Any = None) -> Reply:
    headers = {"Accept": "application/fhir+json"}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers["Content-Type"] = "application/fhir+json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return Reply(status, parsed, text)


@dataclass
class Story:
    """The story's state and its checks."""

    hub: str  # http://127.0.0.1:PORT
    clients: dict[str, SeedClient]
    m: Municipality
    out: Callable[[str], None] = print
    failed: list[str] = field(default_factory=list)
    tokens: dict[tuple[str, str | None], str] = field(default_factory=dict)

    @property
    def fhir(self) -> str:
        return self.hub + "/fhir"

    def token(self, key: str, purpose: str | None = None) -> str:
        if (key, purpose) not in self.tokens:
            self.tokens[key, purpose] = fetch_token(self.clients[key], self.hub, purpose=purpose)
        return self.tokens[key, purpose]

    def name(self, key: str) -> str:
        return self.m.by_id[self.clients[key].organization.split("/", 1)[1]].name

    def call(self, key: str, method: str, path: str, body: Any = None, **kw: str) -> Reply:
        reply = http(method, f"{self.fhir}/{path}", self.token(key, kw.get("purpose")), body)
        self.out(f"    {method} /fhir/{urllib.parse.unquote(path)}  → {reply.status}")
        return reply

    def check(self, what: str, ok: bool) -> None:
        self.out(f"    {'✓' if ok else '✗'} {what}")
        if not ok:
            self.failed.append(what)

    def heading(self, text: str) -> None:
        self.out("")
        self.out(text)


def _candidates(m: Municipality, seed: int, size: int) -> Iterator[Person]:
    today = date.today()  # choices do not depend on the day (hub.seed.people)
    for i in range(size):
        p = person(seed, i, today, m)
        names = {o.id for o in p.providers}
        if (
            p.consent is ConsentVariant.PLAIN
            and len(p.short_stays) == 1
            and EMERGENCY_CLIENT not in names
        ):
            yield p


def _active_consent(story: Story, office: str, p: Person) -> dict[str, Any] | None:
    reply = http(
        "GET",
        f"{story.fhir}/Consent?patient={p.ref}&status=active",
        story.token(office),
    )
    entries = (reply.body or {}).get("entry", []) if reply.status == 200 else []
    stay = p.short_stays[0].ref
    for e in entries:
        res = e["resource"]
        actors = {
            a["reference"]["reference"]
            for prov in res.get("provision", {}).get("provision", [])
            for a in prov.get("actor", [])
        }
        if stay in actors:
            return dict(res)
    return None


def _pick(story: Story, seed: int, size: int) -> tuple[Person, dict[str, Any]] | None:
    for p in _candidates(story.m, seed, size):
        consent = _active_consent(story, p.office.id, p)
        if consent is not None:
            return p, consent
    return None


def _decision(event: dict[str, Any]) -> str:
    for ent in event.get("entity", []):
        details = {d.get("type"): d.get("valueString") for d in ent.get("detail", [])}
        if "decision" in details and str(ent.get("what", {}).get("reference", "")).startswith(
            "Patient/"
        ):
            consent = details.get("consent")
            return f"{details['decision']}" + (f" ({consent})" if consent else "")
    for ent in event.get("entity", []):
        for d in ent.get("detail", []):
            if d.get("type") == "decision":
                return str(d.get("valueString"))
    return "-"


def story_steps(story: Story, seed: int, size: int) -> None:
    """(a)–(e) of the module docstring, against ``story.hub``."""
    found = _pick(story, seed, size)
    if found is None:
        story.check("a seeded person with an active consent naming one short stay", False)
        return
    p, consent = found
    stay = p.short_stays[0]
    other = next(o for o in story.m.providing("24") if o.id not in {x.id for x in p.providers})
    office = p.office.id
    story.out(f"  person: {p.name}（{p.kana}）, {p.ref}, registered by {p.office.name}")
    story.out(f"  consent: Consent/{consent['id']} names {', '.join(o.name for o in p.providers)}")

    story.heading(f"(a) {stay.name} — named in the consent — reads the person (TREAT)")
    r = story.call(stay.id, "GET", p.ref, purpose="TREAT")
    shown = " / ".join(n.get("text", "") for n in (r.body or {}).get("name", []))
    story.check(f"200, {shown}, born {(r.body or {}).get('birthDate')}", r.status == 200)

    story.heading(f"(b) {other.name} — not named — asks for the same person")
    r = story.call(other.id, "GET", p.ref, purpose="TREAT")
    story.check("404: refused, answered exactly like an unknown id", r.status == 404)

    story.heading(f"(c) {p.office.name} records that the person withdraws the consent")
    body = {k: v for k, v in consent.items() if k not in ("meta", "text")}
    body["status"] = "inactive"
    r = story.call(office, "PUT", f"Consent/{consent['id']}", body)
    version = ((r.body or {}).get("meta") or {}).get("versionId")
    story.check(f"Consent/{consent['id']} status inactive (version {version})", r.status == 200)
    r = story.call(stay.id, "GET", p.ref, purpose="TREAT")
    story.check(f"{stay.name} is now refused (404)", r.status == 404)

    hospital = story.name(EMERGENCY_CLIENT)
    story.heading(f"(d) {hospital}: the person arrives by ambulance (ETREAT token, break-glass)")
    r = story.call(EMERGENCY_CLIENT, "GET", p.ref, purpose="ETREAT")
    story.check("no consent names the hospital: 404", r.status == 404)
    params = {
        "resourceType": "Parameters",
        "parameter": [{"name": "reason", "valueString": REASON}],
    }
    r = story.call(EMERGENCY_CLIENT, "POST", f"{p.ref}/$break-glass", params, purpose="ETREAT")
    said = ((r.body or {}).get("issue") or [{}])[0].get("diagnostics", "")
    story.check(f"granted: {said}", r.status == 200)
    r = story.call(EMERGENCY_CLIENT, "GET", p.ref, purpose="ETREAT")
    story.check("the hospital reads the person (flagged in the audit trail)", r.status == 200)
    r = story.call(EMERGENCY_CLIENT, "GET", f"{p.ref}/$everything", purpose="ETREAT")
    kinds = sorted({e["resource"]["resourceType"] for e in (r.body or {}).get("entry", [])})
    story.check(f"$everything: {', '.join(kinds)}", r.status == 200 and "Patient" in kinds)
    r = story.call("privacy-officer", "GET", "$break-glass-review")
    grants = [
        {x["name"]: next(v for k, v in x.items() if k != "name") for x in prm.get("part", [])}
        for prm in (r.body or {}).get("parameter", [])
    ]
    mine = [g for g in grants if (g.get("patient") or {}).get("reference") == p.ref]
    last = mine[-1] if mine else {}
    story.check(
        f"on the review queue: {len(mine)} grant(s) for {p.ref}, status "
        f"{last.get('status', '-')}, reason 「{last.get('reason', '')}」",
        r.status == 200 and last.get("status") == "open",
    )

    _audit(story, p)
    _ledger(story)


def _target(event: dict[str, Any], patient: str) -> str:
    """What an event touched: the resource other than the patient, else the patient."""
    refs = [
        str(x["what"]["reference"]).split("/_history")[0]
        for x in event.get("entity", [])
        if isinstance(x.get("what"), dict) and "reference" in x["what"]
    ]
    others = [r for r in refs if r != patient]
    return (others or refs or [""])[0]


def _audit(story: Story, p: Person) -> None:
    officer = story.clients["privacy-officer"].name
    story.heading(f"(e) {officer} (privacy officer): who accessed {p.name}'s data, and why?")
    r = story.call("privacy-officer", "GET", f"AuditEvent?patient={p.ref}&_count=500")
    events = sorted(
        (e["resource"] for e in (r.body or {}).get("entry", [])), key=lambda e: e["recorded"]
    )
    names = {c.client_id: c.name for c in story.clients.values()}
    rows = []
    for e in events:
        who = next(
            (a["who"].get("identifier", {}).get("value") for a in e["agent"] if a.get("requestor")),
            "?",
        )
        sub = e["subtype"][-1]["code"]
        target = _target(e, p.ref)
        purpose = ((e.get("purposeOfEvent") or [{}])[0].get("coding") or [{}])[0].get("code", "-")
        outcome = "ok" if e["outcome"] == "0" else "refused"
        glass = any(x.get("description") == "break-glass" for x in e.get("entity", []))
        rows.append(
            f"    {e['recorded'][:19]}  {names.get(who, who)[:22]:<22}  {sub:<12} {target[:38]:<38}"
            f" {purpose:<7} {outcome:<7} {_decision(e)}{'  [break-glass]' if glass else ''}"
        )
    story.out(f"    {len(events)} events (registration by the office first, then this demo):")
    story.out(
        f"    {'recorded (UTC)':<19}  {'client':<22}  {'interaction':<12} {'resource':<38}"
        f" {'purpose':<7} {'outcome':<7} decision (consent version that decided)"
    )
    for line in rows[-16:] if len(rows) > 16 else rows:
        story.out(line)
    refused = [e for e in events if e["outcome"] != "0"]
    flagged = [
        e for e in events if any(x.get("description") == "break-glass" for x in e.get("entity", []))
    ]
    story.check(
        f"{len(refused)} refused and {len(flagged)} break-glass access(es) are on the record",
        r.status == 200 and len(refused) >= 3 and len(flagged) >= 1,
    )


def _ledger(story: Story) -> None:
    from hub.ledger import open_checkpoint, parse_public_key_text

    story.out("    the ledger: sign a checkpoint now and check it against the published key")
    r = http("POST", f"{story.hub}/ledger/checkpoint", story.token("privacy-officer"))
    story.out(f"    POST /ledger/checkpoint  → {r.status}")
    key = http("GET", f"{story.hub}/ledger/public-key").text
    note = http("GET", f"{story.hub}/ledger/checkpoint").text
    story.out("    GET /ledger/public-key, GET /ledger/checkpoint:")
    for line in note.strip().splitlines():
        story.out(f"      | {line}")
    try:
        name, public = parse_public_key_text(key)
        cp = open_checkpoint(note, public, name)
        story.check(f"signature valid: tree size {cp.size}, root {cp.root.hex()[:16]}…", True)
    except Exception as exc:  # any failure to verify is the finding
        story.check(f"checkpoint signature: {exc}", False)
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "ledger", "verify"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
    )
    last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
    story.out(f"    $ hub ledger verify  → exit {done.returncode}: {last[:200]}")
    story.check(
        "hub ledger verify: every entry, node and checkpoint recomputed", done.returncode == 0
    )


# -- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(settings: Settings, port: int) -> tuple[subprocess.Popen[bytes], str]:
    log = open(settings.data_dir / "demo-hub.log", "ab")  # noqa: SIM115 - the child keeps it
    env = {**os.environ, "HUB_AUTH": "on"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    hub = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if http("GET", f"{hub}/fhir/metadata").status == 200:
                return proc, hub
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError(f"hub serve did not start; see {log.name}")
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _stop_on_signals() -> None:
    """Ctrl-C (even when started with SIGINT ignored) and SIGTERM end the wait, so that the
    ``finally`` of :func:`run_demo` stops the server (it runs in its own session)."""

    def leave(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, leave)


def run_demo(
    settings: Settings, *, port: int = 0, keep_serving: bool = True, size: int = 60
) -> int:
    """Seed, serve, tell the story; 0 if every step behaved, 1 otherwise."""
    from hub.seed.cli import DEFAULT_SEED, run_seed

    out = print
    m = load_municipality()
    out(f"== {m.name}: the community living support base's records hub, demonstrated ==")
    report = run_seed(settings, size, DEFAULT_SEED, date.today(), progress=True)
    out(
        f"seed: {report['persons']} persons ({report['loaded']} loaded now, "
        f"{report['skipped']} already there); clients in {report['clients_file']}"
    )
    clients = read_clients(settings.data_dir)
    proc, hub = start_server(settings, port or free_port())
    story = Story(hub, clients, m, out)
    try:
        out(f"hub: {hub}/fhir (tokens required); log in {settings.data_dir / 'demo-hub.log'}")
        story_steps(story, DEFAULT_SEED, size)
        out("")
        if story.failed:
            out(f"✗ {len(story.failed)} step(s) did not behave as expected:")
            for f in story.failed:
                out(f"  - {f}")
        else:
            out("✓ every step behaved as expected")
        if not keep_serving:
            return 1 if story.failed else 0
        core = m.of_kind(OrgKind.CORE_CENTER)[0].name
        data_dir = settings.data_dir
        out("")
        out(f"The hub keeps running at {hub}/fhir — Ctrl-C stops it. A token, e.g. for {core}:")
        out(f"  TOKEN=$(HUB_DATA_DIR={data_dir} python3 -m hub.seed.token core --url {hub})")
        out(f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{hub}/fhir/EpisodeOfCare?_count=3'")
        out(f"Clients (private keys, mode 0600): {data_dir / 'seed-clients.json'}")
        _stop_on_signals()
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            proc.wait()
        return 1 if story.failed else 0
    finally:
        stop_server(proc)

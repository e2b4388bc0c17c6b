"""The demo municipality みどり野市 (fictional): ``hub seed`` loads it, ``hub demo`` shows it.

| module | what |
|---|---|
| ``municipality`` | ``seed/municipality.json``: organizations, staff, clients; FHIR directory |
| ``profiles``, ``names`` | word lists the generator draws from (pure data) |
| ``people`` | ``person(seed, index, as_of)``: one fictional registered person, deterministic |
| ``documents`` | the person's registration form, care plans, and later consent change |
| ``health`` | the person's health certificate (健康診断書共通様式) |
| ``clients`` | keys made at seed time, registered like ``hub client add``; ``seed-clients.json`` |
| ``load`` | everything written through ``routes.dispatch`` (audited, ledgered), in batches |
| ``token`` | SMART Backend Services tokens for the seeded clients (``python3 -m hub.seed.token``) |
| ``demo`` | the story over HTTP against a ``hub serve`` subprocess |
| ``cli`` | the ``hub seed`` and ``hub demo`` commands |

See ``seed/README.md``.
"""

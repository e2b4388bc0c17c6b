"""PostgreSQL: hub_ledger_append(), one ledger append in one statement under the state lock

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 17:00:00.000000

The function does on the server what ``hub.ledger.merkle.append`` does in Python (RFC 9162
§2.1.1: node = SHA-256(0x01 ‖ left ‖ right)): it locks the ``ledger_state`` row (``FOR
UPDATE``), appends the leaf hash to the frontier, writes the entry, the perfect-subtree nodes
the append completes and the new state, and returns the entry's index and the new tree head.
Concurrent appenders queue on the row lock instead of racing a compare-and-set, so each
append is one round trip and the lock is held only until its transaction commits.
SQLite needs no function: ``BEGIN IMMEDIATE`` already serialises its writers.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION hub_ledger_append(
    p_kind varchar, p_ref varchar, p_entry bytea, p_leaf bytea, p_created bigint
) RETURNS TABLE (entry_idx bigint, new_size bigint, new_frontier bytea, new_root bytea)
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
    stack bytea;
    h bytea;
    lvl integer := 0;
    levels integer[] := ARRAY[0];
    idxs bigint[];
    hashes bytea[];
    k integer;
    acc bytea;
    one CONSTANT bytea := decode('01', 'hex');  -- the RFC 9162 node prefix
BEGIN
    SELECT s.size, s.frontier INTO n, stack FROM ledger_state s WHERE s.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO ledger_state (id, size, root, frontier, base_vid)
        VALUES (1, 0, sha256(''::bytea), ''::bytea, 0) ON CONFLICT DO NOTHING;
        SELECT s.size, s.frontier INTO n, stack FROM ledger_state s WHERE s.id = 1 FOR UPDATE;
    END IF;
    IF length(stack) <> 32 * length(replace(n::bit(64)::text, '0', '')) THEN
        RAISE EXCEPTION USING MESSAGE = 'ledger_state frontier does not match its size';
    END IF;
    h := p_leaf;
    idxs := ARRAY[n];
    hashes := ARRAY[h];
    WHILE ((n >> lvl) & 1) = 1 LOOP
        h := sha256(one || substring(stack FROM length(stack) - 31 FOR 32) || h);
        stack := substring(stack FROM 1 FOR length(stack) - 32);
        lvl := lvl + 1;
        levels := levels || lvl;
        idxs := idxs || (n >> lvl);
        hashes := hashes || h;
    END LOOP;
    stack := stack || h;
    k := length(stack) / 32;
    acc := substring(stack FROM (k - 1) * 32 + 1 FOR 32);
    FOR j IN REVERSE k - 1 .. 1 LOOP
        acc := sha256(one || substring(stack FROM (j - 1) * 32 + 1 FOR 32) || acc);
    END LOOP;
    INSERT INTO ledger_entry (idx, kind, ref, entry, leaf_hash, created)
    VALUES (n, p_kind, p_ref, p_entry, p_leaf, p_created);
    INSERT INTO ledger_node (level, idx, hash)
    SELECT * FROM unnest(levels, idxs, hashes);
    UPDATE ledger_state SET size = n + 1, root = acc, frontier = stack WHERE id = 1;
    RETURN QUERY SELECT n, n + 1, stack, acc;
END
$fn$
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(FUNCTION)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(
            "DROP FUNCTION IF EXISTS hub_ledger_append(varchar, varchar, bytea, bytea, bigint)"
        )

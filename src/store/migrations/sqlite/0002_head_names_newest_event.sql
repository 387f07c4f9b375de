-- The sealed head also names the newest event (dispute reference and event number), so that
-- `audit verify` can say which event was removed when the newest ones are deleted.
ALTER TABLE chain_head ADD COLUMN reference TEXT NOT NULL DEFAULT '';
ALTER TABLE chain_head ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE chain_head SET
    reference = coalesce((SELECT reference FROM events ORDER BY global_seq DESC LIMIT 1), ''),
    seq       = coalesce((SELECT seq FROM events ORDER BY global_seq DESC LIMIT 1), 0)
WHERE id = 1;

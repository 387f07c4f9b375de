-- Each directory change names the change it was made on (0: the directory file alone), and no
-- two changes may be made on the same one: an import and a channel connected from the chat that
-- race are never applied one over the other; the later is prepared again on the newer change.
ALTER TABLE directory_changes ADD COLUMN based_on INTEGER;
UPDATE directory_changes SET based_on = coalesce(
    (SELECT max(p.seq) FROM directory_changes p WHERE p.seq < directory_changes.seq), 0);
CREATE UNIQUE INDEX directory_changes_based_on ON directory_changes (based_on);

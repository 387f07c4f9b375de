-- A state snapshot per dispute, kept with the projections: the dispute's state after its newest
-- event (the serialised `Dispute`), so a decision reads one row instead of folding the whole
-- history. It is derived data: `format` names the binary that wrote it, and a snapshot of another
-- format, or one whose version is not the dispute's newest event, is ignored and rebuilt.
CREATE TABLE snapshots (
    reference TEXT    PRIMARY KEY,
    version   BIGINT  NOT NULL,
    format    TEXT    NOT NULL,
    state     TEXT    NOT NULL
);

-- The Board's view: the challenge log reads a board's disputes by when they were raised; sign-in
-- links and sessions are kept only as SHA-256 hashes of their tokens; every view of a dispute's
-- record is itself recorded (who looked, when). Times are UTC microseconds.
CREATE INDEX disputes_policy_raised ON disputes (policy, first_raised_us);

CREATE TABLE board_links (
    token_hash TEXT    PRIMARY KEY,
    person     TEXT    NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    used_us    INTEGER
);

CREATE TABLE board_sessions (
    token_hash TEXT    PRIMARY KEY,
    person     TEXT    NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    ended_us   INTEGER
);

CREATE TABLE record_views (
    id        INTEGER PRIMARY KEY,
    reference TEXT    NOT NULL,
    person    TEXT    NOT NULL,
    what      TEXT    NOT NULL,   -- record, form, export
    at_us     INTEGER NOT NULL
);
CREATE INDEX record_views_reference ON record_views (reference, id);

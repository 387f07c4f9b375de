-- The record: hash-chained events, projections, outbox, schedule. Times are UTC microseconds.
PRAGMA application_id = 1163084354; -- 'ESCB': marks the file as an escalation-bot database

CREATE TABLE events (
    global_seq       INTEGER PRIMARY KEY,
    reference        TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
    at_us            INTEGER NOT NULL,
    actor            TEXT,
    kind             TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    prev_hash        TEXT    NOT NULL,
    prev_global_hash TEXT    NOT NULL,
    hash             TEXT    NOT NULL,
    UNIQUE (reference, seq)
);

CREATE TABLE chain_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    global_seq INTEGER NOT NULL,
    hash       TEXT    NOT NULL
);
INSERT INTO chain_head (id, global_seq, hash) VALUES (1, 0, '');

CREATE TABLE reference_counters (
    prefix TEXT    NOT NULL,
    year   INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (prefix, year)
);

CREATE TABLE inbound_keys (
    key       TEXT PRIMARY KEY,
    reference TEXT,
    at_us     INTEGER NOT NULL
);

CREATE TABLE disputes (
    reference        TEXT PRIMARY KEY,
    policy           TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    stage            INTEGER NOT NULL,
    tier             INTEGER NOT NULL,
    stage_name       TEXT    NOT NULL,
    due_us           INTEGER,
    urgent           INTEGER NOT NULL,
    raised_by        TEXT    NOT NULL,
    raising_agency   TEXT    NOT NULL,
    receiving_agency TEXT    NOT NULL,
    first_raised_us  INTEGER NOT NULL,
    version          INTEGER NOT NULL
);
CREATE INDEX disputes_open_due ON disputes (status, due_us);

CREATE TABLE dispute_people (
    reference TEXT NOT NULL,
    person    TEXT NOT NULL,
    relation  TEXT NOT NULL,
    PRIMARY KEY (reference, person, relation)
);
CREATE INDEX dispute_people_person ON dispute_people (person);

CREATE TABLE dispute_agencies (
    reference TEXT NOT NULL,
    agency    TEXT NOT NULL,
    side      TEXT NOT NULL,
    PRIMARY KEY (reference, agency)
);
CREATE INDEX dispute_agencies_agency ON dispute_agencies (agency);

CREATE TABLE threads (
    reference TEXT NOT NULL,
    platform  TEXT NOT NULL,
    workspace TEXT NOT NULL,
    channel   TEXT NOT NULL,
    thread    TEXT NOT NULL,
    PRIMARY KEY (reference, platform, workspace, channel)
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT    NOT NULL UNIQUE,
    reference       TEXT    NOT NULL,
    lane            TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    created_us      INTEGER NOT NULL,
    available_us    INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until_us  INTEGER,
    last_error      TEXT,
    result          TEXT,
    done_us         INTEGER
);
CREATE INDEX outbox_ready ON outbox (status, available_us, id);
CREATE INDEX outbox_lane ON outbox (lane, status, id);

CREATE TABLE schedule (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT    NOT NULL UNIQUE,
    reference       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    due_us          INTEGER NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until_us  INTEGER,
    done_us         INTEGER
);
CREATE INDEX schedule_due ON schedule (status, due_us, id);
CREATE INDEX schedule_reference ON schedule (reference, status);

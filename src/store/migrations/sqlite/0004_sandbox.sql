-- The sandbox adapter's posts: what the delivery worker posted to `platform = sandbox` targets,
-- kept so the sandbox page shows each channel exactly as delivered. Times are UTC microseconds.
CREATE TABLE sandbox_posts (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,   -- root, reply, notice, direct, receipt
    reference  TEXT    NOT NULL,
    channel    TEXT,               -- the agency id whose channel it is in (none for a direct message)
    thread     INTEGER,            -- the root post a reply belongs to
    person     TEXT,               -- who alone sees it (direct messages, receipts)
    message    TEXT    NOT NULL,   -- the platform-neutral message, as JSON
    posted_us  INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    revision   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX sandbox_posts_thread ON sandbox_posts (thread, id);

-- How far the sandbox's demo clock has been moved ahead of real time, so a restart keeps it.
CREATE TABLE sandbox_clock (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    offset_us INTEGER NOT NULL
);

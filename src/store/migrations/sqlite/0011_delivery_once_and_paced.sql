-- Delivery exactly once and paced across replicas.
--
-- Pacing and rate-limit pauses, shared by every replica on the database: per platform,
-- workspace and channel ('' for the whole workspace), the next free posting slot and the end of
-- a pause the platform asked for (HTTP 429 Retry-After).
CREATE TABLE delivery_pace (
    platform        TEXT    NOT NULL,
    workspace       TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    next_slot_us    INTEGER NOT NULL DEFAULT 0,
    paused_until_us INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (platform, workspace, channel)
);

-- claimed_us: when the row was last claimed. in_doubt_since_us: set when a post may have reached
-- the platform without its answer reaching us (a worker that died holding the row, or a timeout
-- after the request was sent); the next claim looks for the post before sending it again, in the
-- platform's history from this instant on. slot_us: a posting slot the row holds in its channel.
ALTER TABLE outbox ADD COLUMN claimed_us INTEGER;
ALTER TABLE outbox ADD COLUMN in_doubt_since_us INTEGER;
ALTER TABLE outbox ADD COLUMN slot_us INTEGER;

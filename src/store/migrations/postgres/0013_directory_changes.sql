-- Each change a Board applied to its directory (an import of its people), oldest first. The
-- service runs with the newest, and every replica notices a new one by its number alone.
CREATE TABLE directory_changes (
    seq        BIGSERIAL PRIMARY KEY,
    sha256     TEXT    NOT NULL REFERENCES directory_versions (sha256),
    applied_us BIGINT  NOT NULL,
    summary    TEXT    NOT NULL
);

-- Chat identities linked to people by their verified work email, and unlinked by an admin. The
-- newest row of an identity is its state (`email` NULL: unlinked); every row stays, with when
-- and by whom, so each link can be audited and undone.
CREATE TABLE identity_links (
    seq        BIGSERIAL PRIMARY KEY,
    platform   TEXT    NOT NULL,
    workspace  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    email      TEXT,
    at_us      BIGINT  NOT NULL,
    by_whom    TEXT    NOT NULL
);
CREATE INDEX identity_links_by_identity ON identity_links (platform, workspace, user_id, seq);

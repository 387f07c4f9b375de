-- Workspaces whose credentials stopped working (the app uninstalled, its token revoked): every
-- post to one waits, kept in the outbox, until it is installed again. Shared by every replica on
-- the database, so all of them stop posting there at once. since_us: when posting there was
-- found impossible; why: what the platform said (e.g. token_revoked).
CREATE TABLE workspace_holds (
    platform  TEXT    NOT NULL,
    workspace TEXT    NOT NULL,
    since_us  INTEGER NOT NULL,
    why       TEXT    NOT NULL,
    PRIMARY KEY (platform, workspace)
);

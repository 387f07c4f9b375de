-- Every directory the service has run with, so the record can always say who was who.
CREATE TABLE directory_versions (
    sha256    TEXT PRIMARY KEY,
    loaded_us BIGINT  NOT NULL,
    content   TEXT    NOT NULL
);

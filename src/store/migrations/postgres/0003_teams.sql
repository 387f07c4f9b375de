-- Teams addresses learnt from inbound activities: the Bot Connector base URL (serviceUrl) of each
-- tenant, and each user's Teams id ("29:…") behind their Entra object id, so that posts and
-- direct messages reach the right regional Connector after a restart or on another replica.
CREATE TABLE teams_tenants (
    tenant      TEXT    PRIMARY KEY,
    service_url TEXT    NOT NULL,
    updated_us  BIGINT NOT NULL
);

CREATE TABLE teams_users (
    tenant        TEXT    NOT NULL,
    aad_object_id TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    updated_us    BIGINT NOT NULL,
    PRIMARY KEY (tenant, aad_object_id)
);

-- What chat adapters keep for themselves, outside the record: Teams addresses learnt from
-- activities, the sandbox's posts and its demo clock. One generic table keyed by adapter and key,
-- each value JSON, so the record's own schema knows nothing of any platform.
CREATE TABLE adapter_state (
    adapter    TEXT   NOT NULL,
    key        TEXT   NOT NULL,
    value      TEXT   NOT NULL,
    updated_us BIGINT NOT NULL,
    PRIMARY KEY (adapter, key)
);

INSERT INTO adapter_state (adapter, key, value, updated_us)
SELECT 'teams', 'service_url:' || tenant, to_jsonb(service_url)::text, updated_us FROM teams_tenants;

INSERT INTO adapter_state (adapter, key, value, updated_us)
SELECT 'teams', 'user:' || tenant || ':' || aad_object_id, to_jsonb(user_id)::text, updated_us FROM teams_users;

INSERT INTO adapter_state (adapter, key, value, updated_us)
SELECT 'sandbox', 'clock_offset_us', offset_us::text, 0 FROM sandbox_clock WHERE id = 1;

INSERT INTO adapter_state (adapter, key, value, updated_us)
SELECT 'sandbox', 'post:' || lpad(id::text, 12, '0'),
       jsonb_build_object('kind', kind, 'reference', reference, 'channel', channel, 'thread', thread,
                          'person', person, 'message', message::jsonb, 'posted_us', posted_us,
                          'updated_us', updated_us, 'revision', revision)::text,
       updated_us
FROM sandbox_posts;

INSERT INTO adapter_state (adapter, key, value, updated_us)
SELECT 'sandbox', 'posts', max(id)::text, 0 FROM sandbox_posts HAVING count(*) > 0;

DROP TABLE teams_tenants;
DROP TABLE teams_users;
DROP TABLE sandbox_clock;
DROP TABLE sandbox_posts;

-- A quiet delivery worker, and thread replies combined into one post.

-- The rows a worker holds (only a pending row is ever held), by the end of their lease: so
-- finding when the next row falls due reads the few rows in flight, never every pending row.
CREATE INDEX outbox_leased ON outbox (lease_until_us) WHERE lease_owner IS NOT NULL;

-- combined_into: the row whose post carries this one. Replies to one thread that wait behind
-- each other are posted together; the post is made under the first row's key, and every row
-- combined into it is marked sent with it, in one transaction.
ALTER TABLE outbox ADD COLUMN combined_into BIGINT;
CREATE INDEX outbox_combined ON outbox (combined_into) WHERE combined_into IS NOT NULL;

-- A workspace whose credentials stopped working (the app uninstalled, its token revoked): every
-- post to it waits, kept in the outbox, until it is installed again. Held on the workspace's
-- own row of delivery_pace (channel ''), so every replica on the database stops posting there.
-- held_since_us: when posting there was found impossible; held_why: what the platform said.
ALTER TABLE delivery_pace ADD COLUMN held_since_us BIGINT;
ALTER TABLE delivery_pace ADD COLUMN held_why TEXT;

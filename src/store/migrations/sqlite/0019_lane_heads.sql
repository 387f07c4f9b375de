-- Only the first pending row of a lane is in the ready range. A row queued behind it waits with
-- available_us at the far future (9999-12-31T23:59:59Z) and keeps its own ready time in
-- ready_us; when the row ahead of it is settled it takes that time. So handing a lane's first
-- row back to wait for its channel's slot touches that row alone, however long the backlog
-- behind it, and no claim walks the backlog.
ALTER TABLE outbox ADD COLUMN ready_us INTEGER;

UPDATE outbox SET ready_us = available_us, available_us = 253402300799000000
 WHERE status = 'pending' AND lease_owner IS NULL
   AND EXISTS (SELECT 1 FROM outbox earlier
               WHERE earlier.lane = outbox.lane AND earlier.status = 'pending'
                 AND earlier.id < outbox.id);

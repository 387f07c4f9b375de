-- The challenge log's lines: one per dispute, folded from its events and kept current by every
-- append in the same transaction (and rebuilt with the other projections), so the log, its
-- exports and the statistics read one row per dispute instead of every event of a board. The
-- line is JSON; names, timeliness and working days are worked out when it is read. A database
-- from before this table gets its lines when the service opens it. Times are UTC microseconds.
CREATE TABLE dispute_log (
    reference TEXT    PRIMARY KEY,
    board     TEXT    NOT NULL,
    raised_us INTEGER NOT NULL,
    raising   TEXT    NOT NULL,
    receiving TEXT    NOT NULL,
    line      TEXT    NOT NULL
);
CREATE INDEX dispute_log_board_raised ON dispute_log (board, raised_us);

-- Each projection's version (its fold and tables): a server whose projection is newer than the
-- stored one rebuilds it from the history on start, and its views answer "rebuilding" until
-- the rebuild has reached the head of the history as it was then (`rebuilding_until_*`).
ALTER TABLE projection_checkpoints
    ADD COLUMN version integer NOT NULL DEFAULT 1,
    ADD COLUMN rebuilding_until_transaction bigint,
    ADD COLUMN rebuilding_until_position bigint;

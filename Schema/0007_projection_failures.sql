-- A projection that cannot apply an event stops at that event, and says which: one row per
-- stopped projection, written by its runner, cleared when the event is applied or skipped.
-- Derived state like the checkpoints: the history says what was skipped and why.
CREATE TABLE projection_failures (
    projection      text        PRIMARY KEY,
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    global_position bigint      NOT NULL,
    event_type      text        NOT NULL,
    error           text        NOT NULL,
    failed_since    timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        bigint      NOT NULL DEFAULT 1
);
GRANT SELECT, INSERT, UPDATE, DELETE ON projection_failures TO spona_app;

-- The statistics' counters as bigint: no sum of counts can overflow a reader.
ALTER TABLE view_municipality_month
    ALTER COLUMN reports TYPE bigint, ALTER COLUMN children TYPE bigint, ALTER COLUMN high_risk TYPE bigint,
    ALTER COLUMN referrals_sent TYPE bigint, ALTER COLUMN identified_victims TYPE bigint,
    ALTER COLUMN reports_by_trained TYPE bigint;
ALTER TABLE view_sector_month
    ALTER COLUMN reports TYPE bigint, ALTER COLUMN referrals_sent TYPE bigint, ALTER COLUMN referrals_received TYPE bigint;
ALTER TABLE view_sector_flows ALTER COLUMN referrals TYPE bigint;
ALTER TABLE view_place_flows ALTER COLUMN cases TYPE bigint;
ALTER TABLE view_trainings ALTER COLUMN participants TYPE bigint;

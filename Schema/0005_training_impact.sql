-- Training impact: reports filed by trained staff, and the trainings themselves, folded by the
-- `case_statistics` projection. After this migration run `spona projections rebuild
-- case_statistics` once so that history before it is counted too.
ALTER TABLE view_municipality_month ADD COLUMN reports_by_trained integer NOT NULL DEFAULT 0;

CREATE TABLE view_trainings (
    training_id    uuid    PRIMARY KEY,
    held_on        date    NOT NULL,
    host           text    NOT NULL,
    participants   integer NOT NULL,
    municipalities text[]  NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON view_trainings TO spona_app;

-- Flows, folded by the `case_statistics` projection (run `spona projections rebuild
-- case_statistics` after this migration to count the history before it).

-- Referrals from one sector to another, by month.
CREATE TABLE view_sector_flows (
    from_sector text    NOT NULL,
    to_sector   text    NOT NULL,
    month       text    NOT NULL,
    referrals   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (from_sector, to_sector, month)
);

-- Cases recruited in one place and exploited in another (municipality codes, or
-- "country:XX" abroad), by the month the report was filed.
CREATE TABLE view_place_flows (
    from_place text    NOT NULL,
    to_place   text    NOT NULL,
    month      text    NOT NULL,
    cases      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (from_place, to_place, month)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON view_sector_flows, view_place_flows TO spona_app;

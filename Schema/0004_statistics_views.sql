-- Regional statistics, folded from the events by the `case_statistics` projection. Counts
-- only: no row here says anything about a person.

-- The projection's own lookups: a case's municipality, an institution's sector.
CREATE TABLE stat_cases (
    case_id      uuid PRIMARY KEY,
    municipality text NOT NULL
);
CREATE TABLE stat_institutions (
    id     uuid PRIMARY KEY,
    sector text NOT NULL
);

-- Municipality × month (UTC calendar month of the event, "2026-11").
CREATE TABLE view_municipality_month (
    municipality       text    NOT NULL,
    month              text    NOT NULL,
    reports            integer NOT NULL DEFAULT 0,
    children           integer NOT NULL DEFAULT 0,
    high_risk          integer NOT NULL DEFAULT 0,
    referrals_sent     integer NOT NULL DEFAULT 0,
    identified_victims integer NOT NULL DEFAULT 0,
    PRIMARY KEY (municipality, month)
);
CREATE INDEX view_municipality_month_by_month ON view_municipality_month (month);

-- Sector × month: reports by the reporting institution's sector, referrals by sender's and
-- receiver's sector.
CREATE TABLE view_sector_month (
    sector             text    NOT NULL,
    month              text    NOT NULL,
    reports            integer NOT NULL DEFAULT 0,
    referrals_sent     integer NOT NULL DEFAULT 0,
    referrals_received integer NOT NULL DEFAULT 0,
    PRIMARY KEY (sector, month)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON stat_cases, stat_institutions, view_municipality_month, view_sector_month TO spona_app;

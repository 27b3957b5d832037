-- Reports about several people (siblings, a group of workers): persons are counted from the
-- people of each report, reports from cases.
--
-- case_statistics keeps what it folds of each person in `stat_cases.persons`, one
-- "id|gender|age group|outcome|month|kinds" each (codes and months only, never anything about
-- the person); case_work keeps each person's "id|age group|gender|identification|assisted" in
-- `case_reports.persons`. Both projections are rebuilt on start (versions 6 and 3). The one
-- subject's columns of earlier versions stay, unused, for a server of the previous release
-- still running beside this one during an upgrade.

ALTER TABLE stat_cases ADD COLUMN persons text[] NOT NULL DEFAULT '{}';
ALTER TABLE case_reports ADD COLUMN persons text[] NOT NULL DEFAULT '{}';

-- The kept month ends of stat_cases hold whole rows in the table's column order (0020): made
-- again with the new column in its place. Derived data, rebuilt with the projection.
DROP TABLE stat_cases_history;
CREATE TABLE stat_cases_history (LIKE stat_cases);
ALTER TABLE stat_cases_history ADD COLUMN until_month integer NOT NULL;
CREATE INDEX stat_cases_history_months ON stat_cases_history USING gist (int4range(since_month, until_month));
GRANT SELECT, INSERT, UPDATE, DELETE ON stat_cases_history TO spona_app;

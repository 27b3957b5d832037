-- The breakdowns an annual report is made of (case_statistics version 4, rebuilt on start):
-- per municipality and month, cases by the subject's gender, age group and form of
-- exploitation and the reporter's sector; by identification outcome; identified victims and
-- assisted persons by gender, age group, form and kind of assistance; referrals by step,
-- conferences, decisions by type, and decisions implemented on time or late. Each count carries its cell key, as every count
-- analysts see does (see Disclosure).
--
-- stat_cases keeps what the fold needs of a case between its events: categories only, never
-- anything that names or describes the person.
ALTER TABLE stat_cases
    ADD COLUMN gender        text,
    ADD COLUMN age_group     text,
    ADD COLUMN exploitation  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN outcome       text,
    ADD COLUMN outcome_month text,
    ADD COLUMN assistance    text[] NOT NULL DEFAULT '{}',
    -- "referral|dimension|value|month" per referral cell counted (what a referral entered in error takes back),
    -- "decision|due" per decision not yet implemented (on time or late when it is).
    ADD COLUMN referral_steps text[] NOT NULL DEFAULT '{}',
    ADD COLUMN decisions_due  text[] NOT NULL DEFAULT '{}',
    -- When the report was filed and whether it was acknowledged yet; when each referral not
    -- yet accepted was sent ("referral|seconds"): the timings' classes.
    ADD COLUMN filed_at          bigint,
    ADD COLUMN acknowledged      boolean NOT NULL DEFAULT false,
    ADD COLUMN referrals_sent_at text[] NOT NULL DEFAULT '{}';

CREATE TABLE view_breakdown_month (
    municipality text   NOT NULL,
    month        text   NOT NULL,
    dimension    text   NOT NULL,
    value        text   NOT NULL,
    count        bigint NOT NULL,
    count_key    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (municipality, month, dimension, value)
);
CREATE INDEX view_breakdown_month_dimension ON view_breakdown_month (dimension, month);
GRANT SELECT, INSERT, UPDATE, DELETE ON view_breakdown_month TO spona_app;

-- Referrals declined per flow between sectors, in the month they were declined (a referral
-- entered in error takes its decline back with it).
ALTER TABLE view_sector_flows ADD COLUMN declined bigint NOT NULL DEFAULT 0;
ALTER TABLE stat_referrals ADD COLUMN declined_month text;

-- The day each institution first took part in a training (attendance as recorded with the
-- training): reports by trained staff from attendance, beside the reporter's own statement.
CREATE TABLE stat_training_attendance (
    institution_id uuid PRIMARY KEY,
    first_training date NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON stat_training_attendance TO spona_app;

-- Each report's wait for its first acknowledgement and each referral's wait for acceptance,
-- exactly: the Center's medians and 90th percentiles (analysts read the same waits in classes).
CREATE TABLE stat_waits (
    record_id    uuid   PRIMARY KEY,
    kind         text   NOT NULL CHECK (kind IN ('acknowledgement', 'acceptance')),
    municipality text   NOT NULL,
    month        text   NOT NULL,
    seconds      bigint NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON stat_waits TO spona_app;

-- Counts that follow corrections (case_statistics version 3, rebuilt on start): a case counts as
-- an identified victim once, in the month of its identification, and no more once a later
-- conclusion says otherwise; a referral marked entered in error no longer counts as sent.
ALTER TABLE stat_cases ADD COLUMN identified_month text;
CREATE TABLE stat_referrals (
    referral_id  uuid PRIMARY KEY,
    month        text NOT NULL,
    from_sector  text,
    to_sector    text
);
GRANT SELECT, INSERT, UPDATE, DELETE ON stat_referrals TO spona_app;

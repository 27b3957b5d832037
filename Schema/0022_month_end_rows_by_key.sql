-- A view as of a moment inside a month copies, from the month's end before it, only the rows
-- of `stat_cases` and `stat_referrals` that the month's events read (a case's facts, a
-- referral being declined), not every case of the history. Their kept versions are found by
-- key.
CREATE INDEX stat_cases_history_case ON stat_cases_history (case_id);
CREATE INDEX stat_referrals_history_referral ON stat_referrals_history (referral_id);

-- Disclosure control by cell keys (see SponaProjections/Statistics/Disclosure.swift): beside
-- each count, the sum (mod 2^32) of the record keys of what it counts. A cell's perturbation is
-- derived from its count and its key, so the same records always give the same answer, in
-- whichever view and at whichever moment they are asked for. Filled by the `case_statistics`
-- projection from its version 2 on (servers rebuild it on start).
ALTER TABLE view_municipality_month
    ADD COLUMN reports_key bigint NOT NULL DEFAULT 0,
    ADD COLUMN children_key bigint NOT NULL DEFAULT 0,
    ADD COLUMN high_risk_key bigint NOT NULL DEFAULT 0,
    ADD COLUMN referrals_sent_key bigint NOT NULL DEFAULT 0,
    ADD COLUMN identified_victims_key bigint NOT NULL DEFAULT 0,
    ADD COLUMN reports_by_trained_key bigint NOT NULL DEFAULT 0;
ALTER TABLE view_place_flows ADD COLUMN cases_key bigint NOT NULL DEFAULT 0;

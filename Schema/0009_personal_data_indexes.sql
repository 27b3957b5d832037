-- The events a server reads at start to check its subject key folder against the history
-- (SponaApplication/Privacy/KeyFolderCheck.swift): every erasure, and the newest reports.
-- Partial indexes, so they cost only those rows.
CREATE INDEX events_erasures ON events (global_position) WHERE event_type = 'PersonalDataErased';
CREATE INDEX events_reports ON events (global_position) WHERE event_type = 'ReportFiled';

-- The subjects' keys do not live in the database after all. A backup taken before an erasure
-- would keep a wrapped copy of the key, and with the master key from configuration it would
-- open the erased data again. The keys live in SPONA_KEY_DIR instead (SubjectKeyStore.swift),
-- outside the database and its backups; this table was never written to.
DROP TABLE subject_keys;

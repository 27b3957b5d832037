-- Servers keep token lookups in memory (AccessTokenCache) only while they LISTEN on
-- `spona_access`: every change to the tokens or to the institutions' read model (which says
-- whether a token's institution is still active) notifies it, on commit, and each server then
-- forgets what it kept. Statement triggers: one notification per statement, whatever its size.
-- A rebuilt read model swapped in for a live one keeps these triggers (ProjectionRebuild
-- re-creates a table's triggers on the new table) and notifies `spona_projection_swapped`.
CREATE FUNCTION spona_notify_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('spona_access', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER access_tokens_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON access_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION spona_notify_access_changed();

CREATE TRIGGER institutions_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON institutions
    FOR EACH STATEMENT EXECUTE FUNCTION spona_notify_access_changed();

-- Keeping month ends cost a rebuild most of its time: the row trigger of migration 0020 ran a
-- PL/pgSQL function for every row written (twice for an upsert that updates: its INSERT, then
-- its UPDATE), inserted each kept version on its own, and the versions went into a GiST index
-- over int4range, whose insertions cost ten times a B-tree's.
--
-- Now:
-- - a new row takes its month from the column's default, and a statement that changes rows
--   sets `since_month = DEFAULT` (an upsert: `since_month = EXCLUDED.since_month`), which is
--   the month being applied: months never go back;
-- - once per statement, a trigger keeps the versions it replaced that held before this month,
--   all in one INSERT from the statement's transition table; and it refuses an UPDATE that
--   left a row's since_month behind the month, which would show the row twice at an earlier
--   month's end;
-- - the kept versions are found by a B-tree on (until_month, since_month): those that held at
--   the end of month m are since_month <= m < until_month, read in order of until_month.
-- Without `spona.month` (a replay into temporary tables) nothing is kept, as before.
DO $do$
DECLARE
    v_table text;
    v_index text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY[
        'stat_cases', 'stat_institutions', 'stat_referrals', 'view_municipality_month', 'view_sector_month', 'view_trainings',
        'view_sector_flows', 'view_place_flows', 'view_breakdown_month', 'stat_training_attendance', 'stat_waits'
    ] LOOP
        EXECUTE format(
            $f$ALTER TABLE %I ALTER COLUMN since_month SET DEFAULT coalesce(nullif(current_setting('spona.month', true), '')::integer, 0)$f$,
            v_table
        );
        EXECUTE format('DROP TRIGGER keep_month_ends ON %I', v_table);
        -- Unqualified, so that a rebuild's copies in a schema of their own keep their months in
        -- that schema's history tables.
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION %1$I() RETURNS trigger
            LANGUAGE plpgsql
            AS $body$
            DECLARE
                v_month integer := current_setting('spona.month')::integer;
            BEGIN
                IF TG_OP = 'UPDATE' THEN
                    IF EXISTS (SELECT FROM new_rows n WHERE n.since_month < v_month) THEN
                        RAISE EXCEPTION 'an update of %2$s in month %% left since_month behind; set it to DEFAULT', v_month
                            USING ERRCODE = '23514';
                    END IF;
                END IF;
                INSERT INTO %3$I SELECT o.*, v_month FROM old_rows o WHERE o.since_month < v_month;
                RETURN NULL;
            END
            $body$
            $f$, 'spona_keep_month_ends_' || v_table, v_table, v_table || '_history');
        EXECUTE format(
            $f$CREATE TRIGGER keep_month_ends AFTER UPDATE ON %I
               REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
               WHEN (coalesce(current_setting('spona.month', true), '') <> '')
               EXECUTE FUNCTION %I()$f$,
            v_table, 'spona_keep_month_ends_' || v_table
        );
        EXECUTE format(
            $f$CREATE TRIGGER keep_month_ends_deleted AFTER DELETE ON %I
               REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
               WHEN (coalesce(current_setting('spona.month', true), '') <> '')
               EXECUTE FUNCTION %I()$f$,
            v_table, 'spona_keep_month_ends_' || v_table
        );
        -- By access method, not name: a rebuild's copies carry names PostgreSQL chose.
        FOR v_index IN
            SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am a ON a.oid = i.relam
            WHERE x.indrelid = format('%I', v_table || '_history')::regclass AND a.amname = 'gist'
        LOOP
            EXECUTE format('DROP INDEX %I', v_index);
        END LOOP;
        EXECUTE format('CREATE INDEX %I ON %I (until_month, since_month)', v_table || '_history_until', v_table || '_history');
    END LOOP;
END
$do$;

-- The statistics as they stood at every month's end, so that a view "as of" a past moment
-- costs what the view costs now, however long the history behind it.
--
-- Every table of the case_statistics projection gets a `since_month` column (the month, as
-- year * 12 + month - 1 in UTC, from whose end on this version of the row holds) and a
-- `<table>_history` table of the versions it replaced, each with the month `until_month` at
-- whose end it no longer held. A trigger keeps them: the projection's runner says in each
-- transaction which month its events were recorded in (`spona.month`); the first change of a
-- row in a later month keeps the row as it was. A month's end is then the rows with
-- `since_month <= m` plus the kept versions whose months cover m: no replay at all.
--
-- Writes that do not say a month (a replay into temporary tables, the reset of a projection)
-- keep nothing. A projection's month ends are derived data like the rest of its tables:
-- rebuilt from the events with them, and checked against a replay of the events in tests.
-- case_statistics is rebuilt on start (version 5) so that its rows carry their months.

-- One trigger function per table, its INSERT written out (planned once per session, not on
-- every row as a dynamic statement would be); unqualified, so that a rebuild's copies in a
-- schema of their own keep their months in that schema's history tables.
DO $do$
DECLARE
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY[
        'stat_cases', 'stat_institutions', 'stat_referrals', 'view_municipality_month', 'view_sector_month', 'view_trainings',
        'view_sector_flows', 'view_place_flows', 'view_breakdown_month', 'stat_training_attendance', 'stat_waits'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN since_month integer NOT NULL DEFAULT 0', v_table);
        EXECUTE format('CREATE TABLE %I (LIKE %I)', v_table || '_history', v_table);
        EXECUTE format('ALTER TABLE %I ADD COLUMN until_month integer NOT NULL', v_table || '_history');
        -- The versions that held at a month's end, found without reading the others.
        EXECUTE format('CREATE INDEX %I ON %I USING gist (int4range(since_month, until_month))', v_table || '_history_months', v_table || '_history');
        EXECUTE format($f$
            CREATE FUNCTION %I() RETURNS trigger
            LANGUAGE plpgsql
            AS $body$
            DECLARE
                v_month integer := nullif(current_setting('spona.month', true), '')::integer;
            BEGIN
                IF v_month IS NULL THEN
                    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                    RETURN NEW;
                END IF;
                IF TG_OP = 'INSERT' THEN
                    NEW.since_month := v_month;
                    RETURN NEW;
                END IF;
                IF OLD.since_month < v_month THEN
                    INSERT INTO %I SELECT (OLD).*, v_month;
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                NEW.since_month := greatest(OLD.since_month, v_month);
                RETURN NEW;
            END
            $body$
            $f$, 'spona_keep_month_ends_' || v_table, v_table || '_history');
        EXECUTE format(
            'CREATE TRIGGER keep_month_ends BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION %I()',
            v_table, 'spona_keep_month_ends_' || v_table
        );
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO spona_app', v_table || '_history');
    END LOOP;
END
$do$;

-- The months begun in the history's order and where each ended (the cursor of its last
-- event; null while it is open): a view as of a moment inside a month starts from the last
-- month's end before it and replays only the events after that point.
CREATE TABLE stat_month_ends (
    month          integer PRIMARY KEY,
    transaction_id bigint,
    position       bigint
);
GRANT SELECT, INSERT, UPDATE, DELETE ON stat_month_ends TO spona_app;

-- A history kept elsewhere (an earlier register, a test's or benchmark's years of work) can be
-- imported by the owner of the history with the times it was recorded at: a session that sets
-- `spona.recorded_earlier_by` (an interval) records its events that much earlier, and each
-- such event says so in its metadata (`recordedEarlierBy`, under the hash chain). Anyone else
-- setting it is refused. The body is 0018's otherwise.

CREATE OR REPLACE FUNCTION spona_append(
    p_stream_id text,
    p_expected_version bigint,
    p_event_ids uuid[],
    p_event_types text[],
    p_schema_versions integer[],
    p_payloads text[],
    p_metadata text,
    p_idempotency_key text,
    p_request_hash bytea,
    p_condition_streams text[],
    p_condition_versions bigint[],
    OUT outcome text,
    OUT stream_version bigint,
    OUT positions bigint[],
    OUT recorded_at timestamptz,
    OUT conflict_stream text
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_count          integer := coalesce(cardinality(p_event_ids), 0);
    v_conditions     integer := coalesce(cardinality(p_condition_streams), 0);
    v_now            timestamptz := clock_timestamp();
    v_metadata       jsonb := p_metadata::jsonb;
    v_stream_bytes   bytea := convert_to(p_stream_id, 'UTF8');
    v_metadata_bytes bytea;
    v_time_bytes     bytea;
    v_payload        jsonb;
    v_payload_bytes  bytea;
    v_type_bytes     bytea;
    v_payloads       jsonb[] := '{}';
    v_hashes         bytea[] := '{}';
    v_current        bigint;
    v_previous       bytea;
    v_position       bigint;
    v_key            idempotency_keys%ROWTYPE;
    v_condition      record;
BEGIN
    IF v_count = 0 THEN
        RAISE EXCEPTION 'an append needs at least one event' USING ERRCODE = '22023';
    END IF;
    IF coalesce(cardinality(p_event_types), 0) <> v_count
       OR coalesce(cardinality(p_schema_versions), 0) <> v_count
       OR coalesce(cardinality(p_payloads), 0) <> v_count THEN
        RAISE EXCEPTION 'event ids, types, schema versions and payloads must be of equal length'
            USING ERRCODE = '22023';
    END IF;
    IF coalesce(cardinality(p_condition_versions), 0) <> v_conditions THEN
        RAISE EXCEPTION 'condition streams and versions must be of equal length' USING ERRCODE = '22023';
    END IF;
    IF v_conditions > 100 THEN
        RAISE EXCEPTION 'an append may rest on at most 100 other streams' USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(v_metadata) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'event metadata must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF coalesce(current_setting('spona.recorded_earlier_by', true), '') <> '' THEN
        IF NOT pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'public.events'::regclass), 'MEMBER') THEN
            RAISE EXCEPTION 'only the owner of the history may record events at an earlier time' USING ERRCODE = '42501';
        END IF;
        v_now := v_now - current_setting('spona.recorded_earlier_by')::interval;
        v_metadata := v_metadata || jsonb_build_object('recordedEarlierBy', current_setting('spona.recorded_earlier_by')::interval::text);
    END IF;

    PERFORM pg_advisory_xact_lock(hashtextextended(p_stream_id, 0));

    IF p_idempotency_key IS NOT NULL THEN
        SELECT * INTO v_key FROM idempotency_keys k WHERE k.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            outcome := CASE WHEN v_key.request_hash = p_request_hash AND v_key.stream_id = p_stream_id
                            THEN 'duplicate' ELSE 'idempotency_mismatch' END;
            stream_version := v_key.stream_version;
            positions := v_key.positions;
            recorded_at := v_key.recorded_at;
            RETURN;
        END IF;
    END IF;

    IF v_conditions > 0 THEN
        -- In one order for every writer, so that shared locks never wait on each other in a ring.
        FOR v_condition IN
            SELECT DISTINCT s.stream FROM unnest(p_condition_streams) AS s(stream) ORDER BY 1
        LOOP
            PERFORM pg_advisory_xact_lock_shared(hashtextextended(v_condition.stream, 0));
        END LOOP;
        FOR v_condition IN
            SELECT c.stream, c.expected,
                   coalesce((SELECT e.stream_version FROM events e WHERE e.stream_id = c.stream
                             ORDER BY e.stream_version DESC LIMIT 1), 0) AS actual
            FROM unnest(p_condition_streams, p_condition_versions) AS c(stream, expected)
        LOOP
            IF v_condition.actual <> v_condition.expected THEN
                outcome := 'condition_conflict';
                stream_version := v_condition.actual;
                conflict_stream := v_condition.stream;
                RETURN;
            END IF;
        END LOOP;
    END IF;

    -- Never write an event that readers would place before events they may have passed.
    -- (spona_event_order_trusted, written out: a function call here cost more than the check.)
    IF coalesce((SELECT e.transaction_id::text::bigint FROM events e ORDER BY e.transaction_id DESC LIMIT 1), 0)
       >= pg_snapshot_xmax(pg_current_snapshot())::text::bigint + (SELECT o.xid_offset FROM event_order o) THEN
        RAISE EXCEPTION 'the event order cannot be trusted: this cluster''s transaction counter is behind the stored history (restored or moved?)'
            USING ERRCODE = '55000', HINT = 'Run spona migrate (or start the server), which starts a new era of the order.';
    END IF;

    SELECT e.stream_version, e.hash INTO v_current, v_previous
    FROM events e
    WHERE e.stream_id = p_stream_id
    ORDER BY e.stream_version DESC
    LIMIT 1;
    IF NOT FOUND THEN
        v_current := 0;
    END IF;

    IF p_expected_version IS NOT NULL AND p_expected_version <> v_current THEN
        outcome := 'conflict';
        stream_version := v_current;
        RETURN;
    END IF;

    v_metadata_bytes := convert_to(v_metadata::text, 'UTF8');
    v_time_bytes := int8send((extract(epoch FROM v_now) * 1000000)::bigint);
    positions := '{}';
    FOR i IN 1 .. v_count LOOP
        v_position := nextval('events_global_position_seq');
        v_payload := p_payloads[i]::jsonb;
        v_payload_bytes := convert_to(v_payload::text, 'UTF8');
        v_type_bytes := convert_to(p_event_types[i], 'UTF8');
        v_previous := sha256(
            '\x73706f6e612d6576656e742d7631'::bytea  -- "spona-event-v1"
            || int8send(v_position)
            || int4send(octet_length(v_stream_bytes)) || v_stream_bytes
            || int8send(v_current + i)
            || uuid_send(p_event_ids[i])
            || int4send(octet_length(v_type_bytes)) || v_type_bytes
            || int4send(p_schema_versions[i])
            || int4send(octet_length(v_payload_bytes)) || v_payload_bytes
            || int4send(octet_length(v_metadata_bytes)) || v_metadata_bytes
            || v_time_bytes
            || coalesce(v_previous, ''::bytea));
        positions := positions || v_position;
        v_hashes := v_hashes || v_previous;
        v_payloads := v_payloads || v_payload;
    END LOOP;

    IF v_count = 1 THEN
        INSERT INTO events (global_position, stream_id, stream_version, event_id, event_type,
                            schema_version, payload, metadata, recorded_at, hash)
        VALUES (positions[1], p_stream_id, v_current + 1, p_event_ids[1], p_event_types[1],
                p_schema_versions[1], v_payloads[1], v_metadata, v_now, v_hashes[1]);
    ELSE
        INSERT INTO events (global_position, stream_id, stream_version, event_id, event_type,
                            schema_version, payload, metadata, recorded_at, hash)
        SELECT u.position, p_stream_id, v_current + u.ordinal, u.event_id, u.event_type,
               u.schema_version, u.payload, v_metadata, v_now, u.hash
        FROM unnest(positions, p_event_ids, p_event_types, p_schema_versions, v_payloads, v_hashes)
             WITH ORDINALITY AS u(position, event_id, event_type, schema_version, payload, hash, ordinal);
    END IF;

    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (idempotency_key, request_hash, stream_id, stream_version,
                                      positions, recorded_at)
        VALUES (p_idempotency_key, p_request_hash, p_stream_id, v_current + v_count,
                positions, v_now);
    END IF;

    outcome := 'appended';
    stream_version := v_current + v_count;
    recorded_at := v_now;
END
$$;


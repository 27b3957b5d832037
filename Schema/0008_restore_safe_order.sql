-- Restore-safe order.
--
-- Readers order events by (transaction_id, position) and read below the oldest running
-- transaction (the read horizon). transaction_id comes from the cluster's transaction counter,
-- which a restore (pg_dump/pg_restore into a new cluster) or a move by logical replication
-- starts again far below the stored ids: the restored history would sit above the horizon,
-- and new events would be placed before old ones, under readers that already passed them.
--
-- So the order has eras. An era adds a constant offset to the counter when it stamps an event
-- (the column's default) and when it computes the horizon (`spona_read_horizon`). When the
-- counter is found behind the stored history, `spona_advance_event_order` (run by `spona
-- migrate` and at the server's start) begins a new era whose offset puts every new event after
-- every stored one. Stored events are never touched; readers' cursors stay valid; the order of
-- what was stored is the order it always had. Until that has run, appends are refused: the
-- order cannot be trusted, and refusing is better than readers skipping events.

CREATE TABLE event_order (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    -- Added to the cluster's transaction ids in this era.
    xid_offset  bigint      NOT NULL DEFAULT 0 CHECK (xid_offset >= 0),
    era         integer     NOT NULL DEFAULT 0,
    began_at    timestamptz
);
INSERT INTO event_order DEFAULT VALUES;

-- Below this, every event is committed and stays where it is in the order.
-- (Written to be inlined into the readers' queries: one SELECT without FROM, no SET clause.)
CREATE FUNCTION spona_read_horizon() RETURNS xid8
LANGUAGE sql STABLE
AS $$
    SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint + (SELECT xid_offset FROM public.event_order))::text::xid8
$$;

-- True when the next transaction to stamp an event comes after every stored event: always so
-- in one cluster; false after a restore or move, until a new era begins.
CREATE FUNCTION spona_event_order_trusted() RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT transaction_id::text::bigint FROM public.events ORDER BY transaction_id DESC LIMIT 1), 0)
           < pg_snapshot_xmax(pg_current_snapshot())::text::bigint + (SELECT xid_offset FROM public.event_order)
$$;

-- Begins a new era if the counter is behind the stored history; answers the new era, or NULL
-- when the order was already trusted. Holds every append and read of events while it works
-- (moments, and only after a restore or move).
CREATE FUNCTION spona_advance_event_order() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_latest bigint;
    v_next   bigint;
    v_offset bigint;
    v_era    integer;
BEGIN
    IF spona_event_order_trusted() THEN
        RETURN NULL;
    END IF;
    LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
    SELECT xid_offset, era INTO v_offset, v_era FROM event_order FOR UPDATE;
    SELECT transaction_id::text::bigint INTO v_latest FROM events ORDER BY transaction_id DESC LIMIT 1;
    v_next := pg_snapshot_xmax(pg_current_snapshot())::text::bigint;
    IF v_next + v_offset > v_latest THEN
        RETURN NULL;  -- another server began it while this one waited
    END IF;
    v_offset := v_latest - v_next + 1;
    v_era := v_era + 1;
    UPDATE event_order SET xid_offset = v_offset, era = v_era, began_at = now();
    EXECUTE format('ALTER TABLE events ALTER COLUMN transaction_id SET DEFAULT ((pg_current_xact_id()::text::bigint + %s)::text::xid8)', v_offset);
    RETURN v_era;
END
$$;

REVOKE ALL ON event_order FROM PUBLIC;
REVOKE ALL ON FUNCTION spona_advance_event_order() FROM PUBLIC;
GRANT SELECT ON event_order TO spona_app;
GRANT EXECUTE ON FUNCTION spona_advance_event_order() TO spona_app;

-- spona_append as in 0001, refusing while the order cannot be trusted.
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
    OUT outcome text,
    OUT stream_version bigint,
    OUT positions bigint[],
    OUT recorded_at timestamptz
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_count          integer := coalesce(cardinality(p_event_ids), 0);
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
    IF jsonb_typeof(v_metadata) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'event metadata must be a JSON object' USING ERRCODE = '22023';
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

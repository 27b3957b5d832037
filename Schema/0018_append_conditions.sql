-- Appends that say which other streams their decision was read from.
--
-- A decision often rests on more than the stream it is written to: a referral may only go to
-- an institution that is active now. Until now the writer read those streams just before the
-- append, and an institution deactivated in between was missed. With conditions, the writer
-- names each stream it relied on and the version it read; the append checks them in its own
-- transaction and writes nothing when one has moved ('condition_conflict', with the stream
-- and its version), so that the writer decides again from what is there now.
--
-- Each condition stream is held with a shared advisory lock for the rest of the transaction,
-- while an append to that stream takes the exclusive one: an append in flight to a condition
-- stream is waited for and then seen, and one that starts later is ordered after this one. So
-- a writer may keep the streams it relies on in memory and still never decide on a stale copy
-- that gets written.
--
-- The nine-argument spona_append of 0001/0008 stays (servers of the previous release call it
-- during a rolling upgrade) and now calls this one without conditions: one body, one hash
-- chain, one order check.

CREATE FUNCTION spona_append(
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
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT a.outcome, a.stream_version, a.positions, a.recorded_at
    FROM spona_append(p_stream_id, p_expected_version, p_event_ids, p_event_types, p_schema_versions,
                      p_payloads, p_metadata, p_idempotency_key, p_request_hash, NULL, NULL) AS a
$$;

REVOKE ALL ON FUNCTION spona_append(text, bigint, uuid[], text[], integer[], text[], text, text, bytea, text[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spona_append(text, bigint, uuid[], text[], integer[], text[], text, text, bytea, text[], bigint[]) TO spona_app;

-- The append-only event store.
--
-- Every fact Spona knows is a row of `events`. Nothing in this file knows what a case or a
-- referral is: streams are names, payloads are JSON.
--
-- Roles: the owner (who runs `spona migrate`) owns every object here. The application role
-- `spona_app` (a group role: grant it to the login the server uses) may SELECT events and call
-- `spona_append`, which is the only way in. It holds no INSERT, UPDATE, DELETE or TRUNCATE
-- privilege on any table, and a trigger rejects UPDATE, DELETE and TRUNCATE of events for
-- everybody, the owner included.
--
-- Requires PostgreSQL 14 or later (xid8, pg_current_snapshot, exact numeric EXTRACT).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'spona_app') THEN
        CREATE ROLE spona_app NOLOGIN;
    END IF;
END
$$;

CREATE SEQUENCE events_global_position_seq AS bigint;

CREATE TABLE events (
    -- From a sequence: unique and increasing in the order positions were *taken*, not the
    -- order transactions *committed*. Readers therefore order by (transaction_id, position)
    -- and stop below the oldest running transaction; see `spona_read_horizon`.
    global_position bigint      NOT NULL DEFAULT nextval('events_global_position_seq'),
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text        NOT NULL CHECK (octet_length(stream_id) BETWEEN 1 AND 200),
    stream_version  bigint      NOT NULL CHECK (stream_version >= 1),
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL CHECK (octet_length(event_type) BETWEEN 1 AND 200),
    schema_version  integer     NOT NULL CHECK (schema_version >= 1),
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL,
    -- SHA-256 over the event's canonical encoding and the previous event's hash in the
    -- stream (see `spona_append`).
    hash            bytea       NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT events_pkey PRIMARY KEY (global_position),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);
ALTER SEQUENCE events_global_position_seq OWNED BY events.global_position;

-- The gap-safe reading order.
CREATE INDEX events_transaction_order ON events (transaction_id, global_position);

-- A retried command with the same key returns the first result and writes nothing.
CREATE TABLE idempotency_keys (
    idempotency_key text        NOT NULL PRIMARY KEY CHECK (octet_length(idempotency_key) BETWEEN 1 AND 300),
    request_hash    bytea       NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    positions       bigint[]    NOT NULL,
    recorded_at     timestamptz NOT NULL
);

-- Appends events to one stream in one round trip.
--
-- p_expected_version: NULL for "any", 0 for "the stream must not exist yet", n for "the
-- stream's last version must be n". Outcomes:
--   appended              the events were written; stream_version is the new version
--   duplicate             p_idempotency_key was seen with the same request: the first result
--   conflict              nothing written; stream_version is the stream's actual version
--   idempotency_mismatch  nothing written; the key was first used for another request
--
-- Writers to one stream are serialised by a transaction-scoped advisory lock on the stream
-- (the single-bigint key space; the two-int4 key space is left for other uses), so the head
-- read below is the committed head and the hash chain has no forks.
--
-- Each event's hash is SHA-256 over its canonical encoding and the previous event's hash in
-- the stream. Swift's `EventHashChain` computes the same bytes to verify; keep the two in step
-- (a test appends here and verifies there):
--
--   "spona-event-v1"
--   int8 global_position
--   int4 length || stream_id (UTF-8)
--   int8 stream_version
--   16 bytes event_id
--   int4 length || event_type (UTF-8)
--   int4 schema_version
--   int4 length || payload as jsonb text (UTF-8)
--   int4 length || metadata as jsonb text (UTF-8)
--   int8 recorded_at, microseconds since 1970-01-01 UTC
--   32 bytes previous hash (nothing for a stream's first event)
--
-- Integers are big-endian (PostgreSQL's send format). The jsonb text form is PostgreSQL's own
-- normalisation (keys sorted, duplicates removed, fixed spacing), so the bytes do not depend on
-- how a client happened to format its JSON.
--
-- Written for speed: every value converted once, the single-event append (the common case)
-- inserts with VALUES, and the result comes back as OUT parameters rather than a result set.
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

-- Nobody rewrites history: not the application, not the owner. (A superuser can disable the
-- trigger; the hash chain and the seals are what make that visible.)
CREATE FUNCTION spona_reject_history_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'the event store is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Correct a mistaken fact by appending an event that says so.';
END
$$;

CREATE TRIGGER events_append_only_rows
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION spona_reject_history_change();
CREATE TRIGGER events_append_only_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION spona_reject_history_change();
CREATE TRIGGER idempotency_keys_append_only_rows
    BEFORE UPDATE OR DELETE ON idempotency_keys
    FOR EACH ROW EXECUTE FUNCTION spona_reject_history_change();

REVOKE ALL ON events, idempotency_keys, events_global_position_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION spona_append(text, bigint, uuid[], text[], integer[], text[], text, text, bytea) FROM PUBLIC;
GRANT SELECT ON events TO spona_app;
GRANT EXECUTE ON FUNCTION spona_append(text, bigint, uuid[], text[], integer[], text[], text, text, bytea) TO spona_app;

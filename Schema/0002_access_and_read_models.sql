-- Who may call the API, the subjects' keys, and the first read models (projections).
--
-- None of these tables is history: history is only in `events`. Tokens and keys are
-- operational state; read models are folds of the events that can be rebuilt at any time.

-- Bearer tokens. Only the SHA-256 of a token is kept; the token itself is printed once by
-- `spona tokens issue`. The server may only read them: tokens are issued and revoked with the
-- owner's login, so a compromised server cannot mint itself new ones.
CREATE TABLE access_tokens (
    id             uuid        PRIMARY KEY,
    token_hash     bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    institution_id uuid        NOT NULL,
    role           text        NOT NULL CHECK (role IN ('reporter', 'coordinator', 'analyst', 'auditor', 'admin')),
    -- The districts an analyst's aggregates are limited to (ISO 3166-2:RS codes).
    districts      text[]      NOT NULL DEFAULT '{}',
    label          text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    revoked_at     timestamptz
);
GRANT SELECT ON access_tokens TO spona_app;

-- Each subject's data key, wrapped (AES-GCM) by the master key from configuration. Erasing a
-- subject's personal data destroys the wrapped key: the ciphertext in the events stays, and
-- can never be opened again.
CREATE TABLE subject_keys (
    subject_id     uuid        PRIMARY KEY,
    wrapped_key    bytea,
    master_key_id  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    erased_at      timestamptz,
    CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
);
GRANT SELECT, INSERT ON subject_keys TO spona_app;

-- Where each projection has got to in the gap-safe order, written in the same transaction as
-- the projection's rows, so a crash never applies an event twice or loses one.
CREATE TABLE projection_checkpoints (
    projection     text        PRIMARY KEY,
    transaction_id bigint      NOT NULL,
    position       bigint      NOT NULL,
    events_applied bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON projection_checkpoints TO spona_app;

-- The institution registry, folded from the `institution-*` streams.
CREATE TABLE institutions (
    id           uuid        PRIMARY KEY,
    name_lat     text        NOT NULL,
    name_cyr     text,
    sector       text        NOT NULL,
    municipality text,
    district     text,
    active       boolean     NOT NULL,
    is_center    boolean     NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX institutions_by_district ON institutions (district, sector);
GRANT SELECT, INSERT, UPDATE, DELETE ON institutions TO spona_app;

-- Each institution's open work: referrals sent to it and conference decisions it is
-- responsible for, until done. Never personal data: ids, kinds, dates.
CREATE TABLE open_work (
    item_id        uuid        PRIMARY KEY,
    case_id        uuid        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('referral', 'decision')),
    institution_id uuid        NOT NULL,
    from_institution uuid,
    detail         text        NOT NULL,
    urgency        text,
    status         text        NOT NULL,
    due            timestamptz,
    since          timestamptz NOT NULL,
    case_closed    boolean     NOT NULL DEFAULT false
);
CREATE INDEX open_work_by_institution ON open_work (institution_id, due);
CREATE INDEX open_work_by_case ON open_work (case_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON open_work TO spona_app;

-- Every report and what became of it, for the reporting institution (`GET /v1/reports/mine`).
CREATE TABLE case_reports (
    case_id               uuid        PRIMARY KEY,
    reporting_institution uuid        NOT NULL,
    municipality          text        NOT NULL,
    filed_at              timestamptz NOT NULL,
    risk_level            text        NOT NULL,
    urgency               text        NOT NULL,
    status                text        NOT NULL,
    acknowledged_at       timestamptz,
    triaged_at            timestamptz,
    referrals_sent        integer     NOT NULL DEFAULT 0,
    conferences_held      integer     NOT NULL DEFAULT 0,
    identification        text,
    assistance_given      integer     NOT NULL DEFAULT 0,
    closed_at             timestamptz,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX case_reports_by_institution ON case_reports (reporting_institution, filed_at DESC);
GRANT SELECT, INSERT, UPDATE, DELETE ON case_reports TO spona_app;

-- The idempotency keys the application checks before deciding a command.
GRANT SELECT ON idempotency_keys TO spona_app;

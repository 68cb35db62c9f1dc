-- +goose Up
-- access_request holds just-in-time requests (DESIGN §13). Times are Unix
-- nanoseconds; requester, binding and scopes are JSON; binding_key is the
-- binding as one comparable string (access.Binding.Key).
CREATE TABLE access_request (
    id                 TEXT    NOT NULL PRIMARY KEY,
    identity           TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    risk               TEXT    NOT NULL,
    approvals_required INTEGER NOT NULL,
    requester          TEXT    NOT NULL,
    binding            TEXT    NOT NULL,
    binding_key        TEXT    NOT NULL,
    reason             TEXT    NOT NULL,
    ticket             TEXT    NOT NULL,
    scopes             TEXT    NOT NULL,
    duration_seconds   {{.Int64}}  NOT NULL,
    created_at         {{.Int64}}  NOT NULL,
    expires_at         {{.Int64}}  NOT NULL,
    updated_at         {{.Int64}}  NOT NULL
);
-- ActiveGrants and GrantActive; the expiry sweep; the list, newest first;
-- the sweep of finished requests.
CREATE INDEX access_request_grants ON access_request (identity, state, expires_at);
CREATE INDEX access_request_expiry ON access_request (state, expires_at);
CREATE INDEX access_request_created ON access_request (created_at);
CREATE INDEX access_request_finished ON access_request (state, updated_at);

-- access_review holds each person's verdict; one per person and request.
CREATE TABLE access_review (
    request_id        TEXT    NOT NULL,
    seq               INTEGER NOT NULL,
    reviewer_provider TEXT    NOT NULL,
    reviewer_issuer   TEXT    NOT NULL,
    reviewer_sub      TEXT    NOT NULL,
    reviewer_name     TEXT    NOT NULL,
    verdict           TEXT    NOT NULL,
    reason            TEXT    NOT NULL,
    at                {{.Int64}}  NOT NULL,
    PRIMARY KEY (request_id, seq),
    UNIQUE (request_id, reviewer_issuer, reviewer_sub)
);

-- access_event is every transition of a request, in order (actor: JSON).
CREATE TABLE access_event (
    request_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    at         {{.Int64}}  NOT NULL,
    PRIMARY KEY (request_id, seq)
);

-- notification_outbox holds one notification per target and event, written
-- in the transition's transaction and delivered at least once. payload is
-- {"event", "request"} as they were at the transition; last_error never
-- holds a secret.
CREATE TABLE notification_outbox (
    id              {{.SerialKey}},
    target          TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {{.Int64}}  NOT NULL,
    delivered_at    {{.Int64}},
    created_at      {{.Int64}}  NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX notification_outbox_delivered ON notification_outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- +goose Down
DROP TABLE notification_outbox;
DROP TABLE access_event;
DROP TABLE access_review;
DROP TABLE access_request;

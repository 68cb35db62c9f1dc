-- +goose Up
-- replay holds the SHA-256 of each (iss, jti) of a one-time-use subject token
-- until the token expires (expires_at: Unix seconds).
CREATE TABLE replay (
    key        {{.Bytes}}  NOT NULL PRIMARY KEY,
    expires_at {{.Int64}} NOT NULL
);
CREATE INDEX replay_expires_at ON replay (expires_at);

-- revocation holds the jti of each revoked access token until it expires.
CREATE TABLE revocation (
    jti        TEXT   NOT NULL PRIMARY KEY,
    expires_at {{.Int64}} NOT NULL
);
CREATE INDEX revocation_expires_at ON revocation (expires_at);

-- +goose Down
DROP TABLE revocation;
DROP TABLE replay;

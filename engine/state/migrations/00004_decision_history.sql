-- +goose Up
-- decision_history keeps policy decisions for `trustgate replay` (DESIGN
-- §14), deduplicated: key is the SHA-256 of what a decision depends on
-- (without per-job claims such as jti or job_id), record the latest such
-- decision as the decision log writes it (JSON, masked), count how many
-- there were. Times are Unix nanoseconds.
CREATE TABLE decision_history (
    key        {{.Bytes}} NOT NULL PRIMARY KEY,
    record     TEXT       NOT NULL,
    count      {{.Int64}} NOT NULL,
    first_seen {{.Int64}} NOT NULL,
    last_seen  {{.Int64}} NOT NULL
);
-- The sweep, the max_rows trim and replay's --since.
CREATE INDEX decision_history_last_seen ON decision_history (last_seen);

-- +goose Down
DROP TABLE decision_history;

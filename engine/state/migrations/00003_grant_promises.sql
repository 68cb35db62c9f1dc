-- +goose Up
-- Grants keep their promises (DESIGN §13, issue 16).
-- scopes is now what a grant carries, always a list: a request stored
-- before with none named (null) carries none, failing closed, rather than
-- all of the identity's, which no approver saw. identity_scopes: 1 when
-- the requester named no scopes and got the identity's. audiences, when
-- named, bound the grant's audiences. starts_at (0: from approval) is the
-- earliest a grant starts. requester_persons are the persons behind the
-- request as the policy named them (JSON list); requester_issuer and
-- requester_sub say whose the request is, so a list filters in the query.
UPDATE access_request SET scopes = '[]' WHERE scopes = 'null';
ALTER TABLE access_request ADD COLUMN identity_scopes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE access_request ADD COLUMN audiences TEXT NOT NULL DEFAULT '[]';
ALTER TABLE access_request ADD COLUMN starts_at {{.Int64}} NOT NULL DEFAULT 0;
ALTER TABLE access_request ADD COLUMN requester_persons TEXT NOT NULL DEFAULT '[]';
ALTER TABLE access_request ADD COLUMN requester_issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE access_request ADD COLUMN requester_sub TEXT NOT NULL DEFAULT '';
UPDATE access_request SET requester_issuer = (requester{{.JSON}}) ->> 'issuer', requester_sub = (requester{{.JSON}}) ->> 'sub';
-- The list, newest first, by identity and by requester.
CREATE INDEX access_request_identity_created ON access_request (identity, created_at, id);
CREATE INDEX access_request_requester_created ON access_request (requester_issuer, requester_sub, created_at, id);

-- reviewer_person is who reviewed as the policy tells people apart
-- (person.rego); one review per person and request. Reviews stored before
-- have none and stay unique by issuer and sub.
ALTER TABLE access_review ADD COLUMN reviewer_person TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX access_review_person ON access_review (request_id, reviewer_person) WHERE reviewer_person <> '';

-- +goose Down
DROP INDEX access_review_person;
ALTER TABLE access_review DROP COLUMN reviewer_person;
DROP INDEX access_request_requester_created;
DROP INDEX access_request_identity_created;
ALTER TABLE access_request DROP COLUMN requester_sub;
ALTER TABLE access_request DROP COLUMN requester_issuer;
ALTER TABLE access_request DROP COLUMN requester_persons;
ALTER TABLE access_request DROP COLUMN starts_at;
ALTER TABLE access_request DROP COLUMN audiences;
ALTER TABLE access_request DROP COLUMN identity_scopes;

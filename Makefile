# Trustgate: `make run` starts the server on development defaults,
# `make test` runs every check CI runs.
GO          ?= go
OPA_VERSION := v1.22.2
BIN         := $(CURDIR)/.bin
OPA         := $(BIN)/opa
TRUSTGATE   := $(BIN)/trustgate
REGO_DIRS   := policies bundles/example

.PHONY: build run demo test test-go test-rego lint fuzz bench load mutate clean

build:
	$(GO) build -o $(TRUSTGATE) ./cmd/trustgate

## run: the server on development defaults (127.0.0.1:8080, bundles/example,
## ephemeral key) with a dev issuer on 127.0.0.1:8090 that mints demo tokens.
run: build
	$(TRUSTGATE) serve

## demo: start the server (with its dev issuer), mint a GitLab-shaped token,
## exchange it, and show what the issued token says.
demo: build
	@set -e; \
	$(TRUSTGATE) serve 2>.demo-server.log & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; \
	for i in $$(seq 50); do curl -sf http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break; sleep 0.2; done; \
	curl -sf http://127.0.0.1:8080/readyz >/dev/null || { echo "server did not become ready; see .demo-server.log"; exit 1; }; \
	echo "1. minted a GitLab-shaped ID token at the dev issuer (http://127.0.0.1:8090/token)"; \
	export CI_ID_TOKEN=$$(curl -sf http://127.0.0.1:8090/token); \
	echo "2. exchanged it: trustgate exchange --url http://127.0.0.1:8080 --token-env CI_ID_TOKEN"; \
	$(TRUSTGATE) exchange --url http://127.0.0.1:8080 --token-env CI_ID_TOKEN --format env --env-name TG > .demo-token.env; \
	. ./.demo-token.env; rm -f .demo-token.env; \
	echo "3. the issued token, as /v1/whoami reads it:"; \
	curl -sf -H "Authorization: Bearer $$TG" http://127.0.0.1:8080/v1/whoami; echo; \
	echo "4. a token from a feature branch is refused:"; \
	export CI_ID_TOKEN=$$(curl -sf 'http://127.0.0.1:8090/token?ref=feature&ref_protected=false&sub=project_path:demo-group/demo-project:ref_type:branch:ref:feature'); \
	$(TRUSTGATE) exchange --url http://127.0.0.1:8080 --token-env CI_ID_TOKEN || true

$(OPA):
	GOBIN=$(BIN) $(GO) install github.com/open-policy-agent/opa@$(OPA_VERSION)

## test: everything CI checks.
test: lint test-rego test-go

lint: $(OPA)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@out=$$($(OPA) fmt --list $(REGO_DIRS)); \
	if [ -n "$$out" ]; then echo "opa fmt needed:"; echo "$$out"; exit 1; fi
	$(OPA) check --strict $(REGO_DIRS)

test-rego: $(OPA)
	$(OPA) test $(REGO_DIRS) testdata/fixtures
	$(GO) run ./cmd/trustgate test $(REGO_DIRS) testdata/fixtures

## mutate: delete each condition of the policy library in turn; every
## mutant must fail a test (see policies/mutation-test.sh).
mutate: $(OPA) build
	OPA=$(OPA) TRUSTGATE=$(TRUSTGATE) policies/mutation-test.sh

test-go:
	$(GO) test -race -count=1 ./...

## fuzz: each fuzz target for FUZZTIME (default 5m).
FUZZTIME ?= 5m
fuzz:
	$(GO) test ./engine/verify -run='^$$' -fuzz='^FuzzPrecheck$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./engine/verify -run='^$$' -fuzz='^FuzzParseClaims$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./server -run='^$$' -fuzz='^FuzzReadForm$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./server -run='^$$' -fuzz='^FuzzDecodeExchangeRequest$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./engine/policy -run='^$$' -fuzz='^FuzzBundleData$$' -fuzztime=$(FUZZTIME)

## bench: Go benchmarks of each stage and a whole exchange.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./engine/... ./server/...

## load: start the server on development defaults and drive POST /oauth2/token
## over loopback at concurrency 1, 8 and 64 (LOADTIME each, default 10s).
LOADTIME ?= 10s
load: build
	@set -e; \
	$(TRUSTGATE) serve --log-level warn --decision-log .load-decisions.log 2>.load-server.log & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; \
	for i in $$(seq 50); do curl -sf http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break; sleep 0.2; done; \
	for c in 1 8 64; do $(GO) run ./cmd/trustgate-load -c $$c -d $(LOADTIME); done

clean:
	rm -rf $(BIN) .demo-server.log .load-server.log .load-decisions.log

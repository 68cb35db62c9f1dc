# Trustgate: `make run` starts the server on development defaults,
# `make test` runs every check CI runs.
GO          ?= go
OPA_VERSION := v1.22.2
# GOLANGCI_LINT_VERSION: golangci-lint v2, built from the module proxy into
# a folder named for its version, so a new pin builds anew.
GOLANGCI_LINT_VERSION := v2.15.0
BIN         := $(CURDIR)/.bin
OPA         := $(BIN)/opa
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
TRUSTGATE   := $(BIN)/trustgate
REGO_DIRS   := policies bundles/example

.PHONY: build run demo test test-go test-rego lint packages fuzz bench load load-100k mutate clean

# STATE is where `make run` and `demo` keep the server's state.
STATE       := sqlite:.trustgate/state.db
# DEMO_LOG is where `make demo` sends the server's logs; DEMO_DECISIONS its
# decision log, which the demo's last step replays.
DEMO_LOG    := .trustgate/demo-server.log
DEMO_DECISIONS := .trustgate/demo-decisions.jsonl

build:
	$(GO) build -o $(TRUSTGATE) ./cmd/trustgate

## run: the server on development defaults (127.0.0.1:8080, bundles/example,
## ephemeral key, state in .trustgate/) with a dev issuer on 127.0.0.1:8090
## that mints demo tokens; the approval console at /console/ signs in through
## the dev issuer's demo people.
run: build
	@mkdir -p .trustgate
	$(TRUSTGATE) serve --state $(STATE)

## demo: start the server (with its dev issuer), mint a GitLab-shaped token,
## exchange it, and show what the issued token says; then just-in-time
## access: a job requests prod-db-breakglass, an approver approves, the job
## exchanges; then a policy change that widens access, as `trustgate diff`
## and `trustgate replay` over the demo's own decisions show it. The
## server's logs go to $(DEMO_LOG), its decisions to $(DEMO_DECISIONS), not
## between the steps. Ports 8080 and 8090 must be free.
demo: build
	@set -e; mkdir -p .trustgate; \
	for port in 8080 8090; do \
	  rc=0; curl -s -o /dev/null --max-time 2 http://127.0.0.1:$$port/ || rc=$$?; \
	  if [ $$rc -ne 7 ]; then echo "make demo: port $$port on 127.0.0.1 is taken; stop what listens there (make run?) and try again"; exit 1; fi; \
	done; \
	echo "the server's logs: $(DEMO_LOG); its decision log: $(DEMO_DECISIONS)"; rm -f $(DEMO_DECISIONS); \
	$(TRUSTGATE) serve --state $(STATE) --decision-log $(DEMO_DECISIONS) >$(DEMO_LOG) 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; \
	for i in $$(seq 50); do curl -sf http://127.0.0.1:8080/readyz >/dev/null 2>&1 && \
	  curl -sf http://127.0.0.1:8090/.well-known/openid-configuration >/dev/null 2>&1 && break; sleep 0.2; done; \
	curl -sf http://127.0.0.1:8080/readyz >/dev/null || { echo "server did not become ready; see $(DEMO_LOG)"; exit 1; }; \
	curl -sf http://127.0.0.1:8090/.well-known/openid-configuration >/dev/null || { echo "dev issuer did not start; see $(DEMO_LOG)"; exit 1; }; \
	echo "1. minted a GitLab-shaped ID token at the dev issuer (http://127.0.0.1:8090/token)"; \
	export CI_ID_TOKEN=$$(curl -sf http://127.0.0.1:8090/token); \
	echo "2. exchanged it: trustgate exchange --url http://127.0.0.1:8080 --token-env CI_ID_TOKEN"; \
	$(TRUSTGATE) exchange --url http://127.0.0.1:8080 --token-env CI_ID_TOKEN --format env --env-name TG > .demo-token.env; \
	. ./.demo-token.env; rm -f .demo-token.env; \
	echo "3. the issued token, as /v1/whoami reads it:"; \
	curl -sf -H "Authorization: Bearer $$TG" http://127.0.0.1:8080/v1/whoami; echo; \
	echo "4. a token from a feature branch is refused:"; \
	export CI_ID_TOKEN=$$(curl -sf 'http://127.0.0.1:8090/token?ref=feature&ref_protected=false&sub=project_path:demo-group/demo-project:ref_type:branch:ref:feature'); \
	$(TRUSTGATE) exchange --url http://127.0.0.1:8080 --token-env CI_ID_TOKEN || true; \
	echo "5. just-in-time: the job asks for prod-db-breakglass and waits (trustgate access request --wait)"; \
	export TRUSTGATE_URL=http://127.0.0.1:8080 CI_ID_TOKEN=$$(curl -sf http://127.0.0.1:8090/token); \
	$(TRUSTGATE) access request --token-env CI_ID_TOKEN --identity prod-db-breakglass --duration 30m \
	  --reason "demo: fix the orders table" --wait --poll 1s --timeout 1m --format env --env-name TG >.demo-jit.env 2>.demo-jit.log & job=$$!; \
	until grep -q '^request ' .demo-jit.log 2>/dev/null; do sleep 0.2; done; sed 's/^/   /' .demo-jit.log; \
	ID=$$(sed -n 's/^request \([a-z2-7]*\) for.*/\1/p' .demo-jit.log); \
	echo "6. alice, a prod-approver, signs in to the company IdP (dev issuer: /token?kind=person) and approves:"; \
	export ALICE=$$(curl -sf 'http://127.0.0.1:8090/token?kind=person&sub=alice&groups=prod-approvers'); \
	$(TRUSTGATE) access approve $$ID --reason "checked with on-call" --token-env ALICE | tee .demo-jit.out; \
	if grep -q ': pending' .demo-jit.out; then \
	  echo "   outside working hours the request is critical: bob approves too"; \
	  export BOB=$$(curl -sf 'http://127.0.0.1:8090/token?kind=person&sub=bob&groups=prod-approvers'); \
	  $(TRUSTGATE) access approve $$ID --reason "second pair of eyes" --token-env BOB; \
	fi; \
	wait $$job; . ./.demo-jit.env; rm -f .demo-jit.env .demo-jit.log .demo-jit.out; \
	echo "7. the job got a token for prod-db-breakglass, until the grant ends:"; \
	curl -sf -H "Authorization: Bearer $$TG" http://127.0.0.1:8080/v1/whoami; echo; \
	echo "8. a change that drops the demo identity's ref restrictions: trustgate diff says it widens (exit 1)"; \
	rm -rf .trustgate/demo-head; cp -r bundles/example .trustgate/demo-head; rm -f .trustgate/demo-head/*_test.rego; \
	awk '/^    demo:/{d=1} d&&/^$$/{d=0} !(d && /ref_protected|refs:/)' bundles/example/data.yaml >.trustgate/demo-head/data.yaml; \
	rc=0; $(TRUSTGATE) diff --allow-insecure-issuers --base bundles/example --head .trustgate/demo-head || rc=$$?; \
	echo "   diff exit code: $$rc"; \
	echo "9. and trustgate replay over the decisions this demo just made: the feature branch of step 4 is newly allowed (exit 1)"; \
	rc=0; $(TRUSTGATE) replay --allow-insecure-issuers --head .trustgate/demo-head --decisions $(DEMO_DECISIONS) || rc=$$?; \
	echo "   replay exit code: $$rc"

$(OPA):
	GOBIN=$(BIN) $(GO) install github.com/open-policy-agent/opa@$(OPA_VERSION)

$(GOLANGCI_LINT):
	GOBIN=$(dir $(GOLANGCI_LINT)) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

## test: everything CI checks.
test: lint test-rego test-go

## lint: gofmt, go vet, golangci-lint (.golangci.yml: tests included; each
## exclusion there says why), opa fmt and opa check --strict.
lint: $(OPA) $(GOLANGCI_LINT)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
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

## packages: the Debian packages the Go tests need (PostgreSQL, chromium, haproxy), when missing.
packages:
	bash scripts/ensure-packages.sh

## test-go: every package under the race detector, then the restarts behind
## HAProxy on their own (their load needs the CPUs to itself; see
## cmd/trustgate/rolling_test.go), without the race detector.
test-go: packages
	TRUSTGATE_HAPROXY_TEST=later $(GO) test -race -count=1 ./...
	TRUSTGATE_HAPROXY_TEST=alone $(GO) test -count=1 -v -run '^TestRestartsBehindHAProxyDropNothing$$' ./cmd/trustgate

## fuzz: each fuzz target for FUZZTIME (default 5m).
FUZZTIME ?= 5m
fuzz:
	$(GO) test ./engine/verify -run='^$$' -fuzz='^FuzzPrecheck$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./engine/verify -run='^$$' -fuzz='^FuzzParseClaims$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./server -run='^$$' -fuzz='^FuzzReadForm$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./server -run='^$$' -fuzz='^FuzzDecodeExchangeRequest$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./server -run='^$$' -fuzz='^FuzzClientIP$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./engine/policy -run='^$$' -fuzz='^FuzzBundleData$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./engine/policy -run='^$$' -fuzz='^FuzzDecodeRawEntry$$' -fuzztime=$(FUZZTIME)

## bench: Go benchmarks of each stage and a whole exchange.
bench: packages
	$(GO) test -run='^$$' -bench=. -benchmem ./engine/... ./server/...

## load: start `trustgate serve` (decision log to a file, metrics on), a dev
## issuer and a generated bundle of 10 identities on free loopback ports, and
## drive POST /oauth2/token at concurrency 1, 16 and 64 (LOADTIME each,
## default 10s). Each run prints exchanges/s, p50/p99, the server's CPU ms
## per exchange (its process_cpu_seconds_total) and x-floor, that cost over
## the crypto floor measured in the same run. Run it on a quiet machine, or
## compare builds side by side: LOADFLAGS='-baseline OTHER-BINARY -rounds 2'
## (docs/operations.md, Sizing).
LOADTIME ?= 10s
LOADFLAGS ?=
load: build
	$(GO) run ./cmd/trustgate-load -serve $(TRUSTGATE) -identities 10 -c 1,16,64 -d $(LOADTIME) $(LOADFLAGS)

## load-100k: the same with 100,000 identities (one per GitLab project, each
## federated on project_path; generated, not committed): exchanges that name
## no identity, then denied ones (400 expected), at concurrency 16. For the
## 5-minute memory check: make load-100k LOADTIME=60s LOADRUNS=16,16,16,16,16
LOADRUNS ?= 16
load-100k: build
	$(GO) run ./cmd/trustgate-load -serve $(TRUSTGATE) -identities 100000 -c $(LOADRUNS) -d $(LOADTIME) $(LOADFLAGS)
	$(GO) run ./cmd/trustgate-load -serve $(TRUSTGATE) -identities 100000 -deny -c 16 -d $(LOADTIME) $(LOADFLAGS)

clean:
	rm -rf $(BIN) $(DEMO_LOG) $(DEMO_DECISIONS) .trustgate/demo-head .demo-jit.env .demo-jit.log .demo-jit.out

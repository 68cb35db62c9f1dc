package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/cmd/trustgate/devissuer"
	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/decisionlog"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/verify"
	"github.com/trustgate/trustgate/server"
)

func runServe(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("serve", io)
	path := fs.String("config", "", "path of trustgate.yaml (default: development defaults)")
	level := fs.String("log-level", "", "override log.level")
	decisions := fs.String("decision-log", "", "override log.decision_log: stdout or a file path")
	stateURL := fs.String("state", "", "override state.url: sqlite:PATH, postgres://… or memory:")
	var prof profiles
	fs.StringVar(&prof.cpu, "cpuprofile", "", "write a Go CPU profile of the whole serve to this file")
	fs.StringVar(&prof.mutex, "mutexprofile", "", "write a Go mutex contention profile to this file when serve stops")
	fs.StringVar(&prof.block, "blockprofile", "", "write a Go blocking profile to this file when serve stops")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg := config.Dev()
	if *path != "" {
		var err error
		if cfg, err = config.Load(*path); err != nil {
			return fail(io, "serve", fmt.Errorf("%s: %w", *path, err))
		}
	}
	if *level != "" {
		cfg.Log.Level = *level
	}
	if *decisions != "" {
		cfg.Log.DecisionLog = *decisions
	}
	if *stateURL != "" {
		cfg.State.URL = *stateURL
	}
	if problems := cfg.Validate(); len(problems) > 0 { // the flags get the config's checks
		return fail(io, "serve", errors.New(strings.Join(problems, "; ")))
	}
	logs, err := newLogs(cfg.Log, io.stdout, io.stderr)
	if err != nil {
		return fail(io, "serve", err)
	}
	defer logs.sync()
	if err := prof.start(); err != nil {
		return fail(io, "serve", err)
	}
	defer func() {
		if err := prof.stop(); err != nil {
			logs.app.Warn("writing the profiles", zap.Error(err))
		}
	}()
	if err := serve(ctx, cfg, logs, newGCTuner(io.env, logs.app)); err != nil {
		logs.app.Error("trustgate stopped", zap.Error(err))
		return exitFail
	}
	return exitOK
}

// serve wires the service: keys → state → verifier → engine → policy →
// server, then serves until ctx ends and drains. Each step is a function of
// its own; the defers stop the background tasks in reverse order, the
// store last, after the last request has drained.
func serve(ctx context.Context, cfg config.Config, logs *logs, gc gcTuner) error {
	log := logs.app
	dev := cfg.DevIssuer() != "" // development defaults
	if dev {
		warnDevelopmentDefaults(log)
	}
	reg := newRegistry()
	metrics := engine.NewMetrics(reg)
	keys, err := newKeySource(cfg.Signing, log)
	if err != nil {
		return err
	}
	store, err := openState(ctx, cfg.State, cfg.DecisionHistory, log, reg)
	if err != nil {
		return err
	}
	defer func() { // after the last request has drained
		if err := store.Close(); err != nil {
			log.Warn("closing the state store", zap.Error(err))
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sink, stopSink, err := startDecisionSink(ctx, cfg.Log.DecisionLogURL, log, reg)
	if err != nil {
		return err
	}
	defer stopSink()
	jit, expired, err := startAccess(ctx, store, cfg, logs)
	if err != nil {
		return err
	}
	defer func() { cancel(); <-expired }() // before the store closes
	history, stopHistory := startHistory(ctx, store, cfg.DecisionHistory, log, reg)
	defer stopHistory() // after the last request, before the store closes
	eng, err := newEngine(cfg, engineParts{keys: keys, store: store, access: jit, sink: sink, history: history, metrics: metrics}, logs)
	if err != nil {
		return err
	}
	errc := make(chan error, 8)
	if err := startPolicy(ctx, cfg, metrics, eng, log, gc, errc); err != nil {
		return err
	}
	srv, err := newServer(cfg, eng, reg, log)
	if err != nil {
		return err
	}
	go func() { errc <- keys.watch(ctx, eng.SetKeys) }()
	if err := startNotifications(ctx, cfg, store, log, reg, errc); err != nil {
		return err
	}
	if dev {
		go func() { errc <- runDevIssuerServer(ctx, cfg.DevIssuer(), cfg.Issuer, log.Named("dev-issuer")) }()
	}
	return listenAndServe(ctx, srv, cfg, log, errc)
}

func warnDevelopmentDefaults(log *zap.Logger) {
	log.Warn("DEVELOPMENT DEFAULTS: no --config given; listening on loopback with the example bundle, " +
		"an ephemeral signing key, http issuers on loopback allowed and a dev issuer that mints tokens for anyone. " +
		"Never run this in production.")
}

// newRegistry is the metrics registry of one serve, with the Go runtime's
// and the process's collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// startDecisionSink starts the HTTP decision-log sink when url is set; nil
// and a no-op stop otherwise. The sink outlives the HTTP server: stop ends
// it once the last request has finished and queued its event, then waits
// for it to upload what is left.
func startDecisionSink(ctx context.Context, url string, log *zap.Logger, reg prometheus.Registerer) (engine.DecisionSink, func(), error) {
	if url == "" {
		return nil, func() {}, nil
	}
	s, err := decisionlog.NewHTTPSink(decisionlog.Config{URL: url, Logger: log.Named("decision-sink"), Registerer: reg})
	if err != nil {
		return nil, nil, err
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { _ = s.Run(sctx); close(done) }()
	return s, func() { stop(); <-done }, nil
}

// startHistory runs the decision history's writer when the history is on;
// nil and a no-op stop otherwise. stop ends it once the last request has
// queued its decision and waits for it to write what is queued.
func startHistory(ctx context.Context, store *state.Store, cfg config.DecisionHistory, log *zap.Logger, reg prometheus.Registerer) (engine.DecisionHistory, func()) {
	if !cfg.On() {
		return nil, func() {}
	}
	w := state.NewHistoryWriter(store, state.HistoryWriterOptions{Logger: log.Named("history"), Registerer: reg})
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { w.Run(hctx); close(done) }()
	return w, func() { stop(); <-done }
}

// startAccess builds just-in-time access on store and runs its expiry
// until ctx ends; expired is closed once the expiry has stopped.
func startAccess(ctx context.Context, store *state.Store, cfg config.Config, logs *logs) (*access.Service, <-chan struct{}, error) {
	jit, err := newAccess(store, cfg.Subscribers(), logs)
	if err != nil {
		return nil, nil, err
	}
	expired := make(chan struct{})
	go func() { runExpiry(ctx, jit, expiryInterval, logs.app.Named("access")); close(expired) }()
	return jit, expired, nil
}

// engineParts are what serve built before the engine.
type engineParts struct {
	keys    *keySource
	store   *state.Store
	access  *access.Service
	sink    engine.DecisionSink
	history engine.DecisionHistory
	metrics *engine.Metrics
}

// newEngine builds the exchange engine of cfg over p.
func newEngine(cfg config.Config, p engineParts, logs *logs) (*engine.Engine, error) {
	log := logs.app
	mask, err := decisionlog.ParseMask(cfg.Log.DecisionMask)
	if err != nil {
		return nil, fmt.Errorf("log.decision_mask: %w", err)
	}
	return engine.New(engine.Config{
		Issuer:     cfg.Issuer,
		DefaultTTL: time.Duration(cfg.Tokens.DefaultTTL),
		MaxTTL:     time.Duration(cfg.Tokens.MaxTTL),
		Verifier: verify.New(verify.Config{
			Skew:                 time.Duration(cfg.Limits.ClockSkew),
			AllowInsecureIssuers: cfg.AllowInsecureIssuers,
			Logger:               log.Named("verify"),
			Observer:             p.metrics,
			Replay:               p.store,
		}),
		Keys:         p.keys.ring(),
		Revocations:  p.store,
		Access:       p.access,
		SubjectRate:  cfg.Limits.SubjectRate,
		SubjectBurst: cfg.Limits.SubjectBurst,
		Logger:       log.Named("engine"),
		DecisionLog:  logs.decisions,
		DecisionSink: p.sink,
		DecisionMask: mask,
		History:      p.history,
		Metrics:      p.metrics,

		ShadowSampleRate:         cfg.ShadowSampleRate,
		MaxConcurrentEvaluations: cfg.Limits.MaxConcurrentEvaluations,
		QueueTimeout:             time.Duration(cfg.Limits.QueueTimeout),
	})
}

// startPolicy loads the policy of cfg into eng (a service that cannot load
// its policy does not start), then follows its bundles until ctx ends,
// reporting the watcher's end on errc.
func startPolicy(ctx context.Context, cfg config.Config, metrics *engine.Metrics, eng *engine.Engine, log *zap.Logger, gc gcTuner, errc chan<- error) error {
	popts, err := policyOptions(cfg, log)
	if err != nil {
		return err
	}
	popts.Remote = cfg.RemoteOptions(metrics)
	w, err := watchPolicy(ctx, cfg.Bundles, popts, eng, log, gc)
	if err != nil {
		return err
	}
	go func() { errc <- w.Run(ctx) }()
	if len(cfg.ShadowBundles) > 0 {
		startShadow(ctx, cfg.ShadowBundles, popts, eng, log.Named("shadow"))
	}
	return nil
}

// startShadow follows the shadow bundles as the live ones are followed and
// evaluates exchanges against them until ctx ends. Nothing here can stop
// the service or change an answer: a shadow policy that does not load is
// logged and shown by /v1/policy and the metrics, and retried on the next
// change.
func startShadow(ctx context.Context, paths []string, opts policy.Options, eng *engine.Engine, log *zap.Logger) {
	opts.Logger = log
	w, err := policy.NewWatcher(paths, opts,
		func(p *policy.Policy) {
			eng.SetShadowPolicy(p)
			log.Info("shadow policy loaded", zap.Any("revisions", p.Revisions()))
		},
		func(err error) {
			eng.ShadowFailed(err)
			log.Error("shadow policy refused; exchanges are unaffected", zap.Error(err))
		})
	if err != nil {
		eng.ShadowFailed(err)
		log.Error("shadow bundles cannot be watched; exchanges are unaffected", zap.Error(err))
		return
	}
	go eng.RunShadow(ctx)
	go func() {
		if err := w.Run(ctx); err != nil {
			eng.ShadowFailed(err)
			log.Error("shadow bundles are no longer watched", zap.Error(err))
		}
	}()
}

// newServer builds the HTTP server of cfg, warning while introspection is
// open to anyone.
func newServer(cfg config.Config, eng *engine.Engine, reg *prometheus.Registry, log *zap.Logger) (*server.Server, error) {
	proxies, clients, err := cfg.NetworkOptions()
	if err != nil {
		return nil, err
	}
	cons, err := newConsole(cfg, eng, log)
	if err != nil {
		return nil, err
	}
	if len(clients) == 0 {
		log.Warn("introspection is open to anyone: configure introspection.clients so that only your resource servers " +
			"learn the claims of a token (RFC 7662 §2.1)")
	}
	sc := server.Config{
		Exchanger:            eng,
		Inspector:            eng,
		Discovery:            eng,
		Status:               eng,
		Access:               eng,
		Logger:               log.Named("http"),
		MaxBodyBytes:         cfg.Limits.MaxBodyBytes,
		RevealReasons:        cfg.RevealReasons,
		ClientRate:           cfg.Limits.ClientRate,
		ClientBurst:          cfg.Limits.ClientBurst,
		TrustedProxies:       proxies,
		IntrospectionClients: clients,
		Registerer:           reg,
		Gatherer:             reg,
	}
	if cons != nil {
		sc.Console, sc.ConsoleSettings = cons.Handler(), cons
	}
	return server.New(sc)
}

func policyOptions(cfg config.Config, log *zap.Logger) (policy.Options, error) {
	opts := policy.Options{
		ServerIssuer:         cfg.Issuer,
		AllowInsecureIssuers: cfg.AllowInsecureIssuers,
		Logger:               log.Named("policy"),
		EvalTimeout:          time.Duration(cfg.Limits.EvalTimeout),
	}
	if v := cfg.BundleVerification; v != nil {
		key, err := policy.LoadVerificationKey(v.PublicKeyFile, v.KeyID, v.Algorithm)
		if err != nil {
			return opts, fmt.Errorf("bundle_verification: %w", err)
		}
		opts.VerificationKey = key
	}
	return opts, nil
}

// watchPolicy watches the bundles, then loads them once (downloading remote
// ones, or reading their cache while the bundle server is down): a service
// that cannot load its policy does not start, and a change made while it
// loads is in the watcher's queue. The returned watcher hands reloads to eng.
func watchPolicy(ctx context.Context, paths []string, opts policy.Options, eng *engine.Engine, log *zap.Logger, gc gcTuner) (*policy.Watcher, error) {
	opts.Loading = gc.duringLoad
	w, err := policy.NewWatcher(paths, opts,
		func(p *policy.Policy) {
			eng.SetPolicy(p)
			log.Info("policy reloaded", zap.Any("revisions", p.Revisions()))
			gc.afterLoad()
		},
		func(err error) {
			eng.PolicyFailed(err)
			log.Error("policy reload refused; the last good policy keeps serving", zap.Error(err))
		})
	if err != nil {
		return nil, fmt.Errorf("watch bundles: %w", err)
	}
	if opts.Remote.CacheDir == "" && slices.ContainsFunc(paths, policy.IsRemote) {
		log.Warn("bundle_cache_dir is not set: a restart while the bundle server is down will fail")
	}
	start := time.Now()
	p, err := w.Start(ctx)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("load bundles: %w", err)
	}
	eng.SetPolicy(p)
	log.Info("policy loaded", zap.Strings("bundles", paths), zap.Any("revisions", p.Revisions()), zap.Duration("duration", time.Since(start)))
	gc.afterLoad()
	return w, nil
}

// listenAndServe serves until ctx ends or a background task fails, then
// stops without dropping a request (stopServing) and returns nil on a clean
// stop.
func listenAndServe(ctx context.Context, srv *server.Server, cfg config.Config, log *zap.Logger, errc <-chan error) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return err
	}
	hs := srv.HTTPServer(cfg.Listen)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("trustgate listening", zap.String("addr", ln.Addr().String()), zap.String("issuer", cfg.Issuer))

	var cause error
	select {
	case <-ctx.Done():
	case cause = <-errc:
		switch {
		case ctx.Err() != nil:
			cause = nil // stopping anyway: tasks end with the context
		case cause == nil || errors.Is(cause, context.Canceled):
			cause = errors.New("a background task stopped unexpectedly")
		}
	case err := <-served:
		return err
	}
	if err := stopServing(srv, hs, served, time.Duration(*cfg.ShutdownDelay), time.Duration(cfg.ShutdownGrace), log); err != nil {
		return err
	}
	log.Info("stopped")
	return cause
}

// stopServing takes the server out of service without dropping a request.
// /readyz fails at once and every response says Connection: close, while
// the listener keeps accepting for delay: load balancers and Kubernetes
// learn of readiness only at their next probe and keep sending until then.
// Then the listener closes and in-flight requests get grace to finish.
func stopServing(srv *server.Server, hs *http.Server, served <-chan error, delay, grace time.Duration, log *zap.Logger) error {
	srv.Drain()
	log.Info("stopping: readiness fails; serving on until load balancers stop sending",
		zap.Duration("shutdown_delay", delay), zap.Duration("shutdown_grace", grace))
	select {
	case <-time.After(delay):
	case err := <-served:
		return err
	}
	log.Info("stopping: listener closed, draining in-flight requests", zap.Duration("shutdown_grace", grace))
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func runDevIssuerServer(ctx context.Context, addr, audience string, log *zap.Logger) error {
	iss, err := devissuer.New(devissuer.Config{Issuer: "http://" + addr, Audience: audience})
	if err != nil {
		return err
	}
	log.Warn("dev issuer minting tokens for anyone on loopback", zap.String("issuer", "http://"+addr),
		zap.String("get_a_token", "curl -s http://"+addr+"/token"))
	return iss.ListenAndServe(ctx, addr)
}

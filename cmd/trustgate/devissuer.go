package main

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
)

func runDevIssuer(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("dev-issuer", io)
	listen := fs.String("listen", config.DevIssuerAddr, "loopback address to listen on")
	aud := fs.String("audience", "http://127.0.0.1:8080", "default aud of minted tokens")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	logs, err := newLogs(config.Log{Level: "info", Format: "console"}, io.stdout, io.stderr)
	if err != nil {
		return fail(io, "dev-issuer", err)
	}
	defer logs.sync()
	fmt.Fprintf(io.stderr, "mint a GitLab-shaped token:  curl -s 'http://%s/token'\n"+
		"mint a GitHub-shaped token:  curl -s 'http://%s/token?platform=github'\n"+
		"override any claim:          curl -s 'http://%s/token?ref=feature&ref_protected=false'\n"+
		"mint an approver's token:    curl -s 'http://%s/token?kind=person&sub=alice&groups=prod-approvers'\n", *listen, *listen, *listen, *listen)
	if err := runDevIssuerServer(ctx, *listen, *aud, logs.app.Named("dev-issuer")); err != nil {
		logs.app.Error("dev issuer stopped", zap.Error(err))
		return exitFail
	}
	return exitOK
}

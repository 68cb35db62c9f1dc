// Package config owns trustgate.yaml (DESIGN §8): its keys and types, the
// development defaults `serve` runs without one, parsing that reports every
// unknown key, defaults, and validation that reports every problem at once,
// each starting with its key. It also turns validated keys into what the
// packages they configure take (policy.RemoteOptions, the server's trusted
// proxies and introspection clients, notify targets, the console's secrets),
// reading the files the config names. It builds and starts nothing: that is
// serve's job in package main.
package config

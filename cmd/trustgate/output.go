package main

import "io"

// output is a command's stdout. It keeps the first write error, so that a
// command whose output was lost (a closed pipe, a full disk) exits non-zero
// rather than 0 with, say, a token that nobody received. Every write is
// still tried: serve's decision records on stdout are not dropped after one
// failed write. The commands' fmt.Fprint calls on it need not check each
// error: run does, once.
type output struct {
	w   io.Writer
	err error
}

func (o *output) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil && o.err == nil {
		o.err = err
	}
	return n, err
}

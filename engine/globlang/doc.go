// Package globlang decides questions about the languages of glob patterns
// exactly: whether every string one set of patterns matches is matched by
// another (inclusion), and whether two sets match a common string
// (overlap), each with a shortest witness.
//
// Patterns are read by the lexer of github.com/gobwas/glob, the library
// OPA's glob.match compiles them with, so escapes, character classes and
// alternatives mean here what they mean there; the separator is "/", as
// DESIGN §3 has it: `*` matches within one segment, `**` across segments,
// `?` one character other than "/", a class ([a-z], [!ab]) any character
// it names, "/" included. A pattern is compiled into a nondeterministic
// automaton over classes of characters (the characters no pattern tells
// apart form one class), and questions are answered by exploring the
// product of automata; nothing is decided by comparing pattern text.
package globlang

#!/usr/bin/env bash
# Mutation test of the policy library: delete each condition line of
# policies/trustgate/*.rego, one at a time, and run the Rego tests (opa test,
# and trustgate test with strict builtin errors). A mutant that passes both
# "survived": a condition no test pins. Usage: make mutate
set -u
cd "$(dirname "$0")/.."
OPA=${OPA:-.bin/opa}
TRUSTGATE=${TRUSTGATE:-.bin/trustgate}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
survivors=0 total=0
for f in policies/trustgate/*.rego; do
  case "$f" in *_test.rego) continue;; esac
  n=$(wc -l < "$f")
  for i in $(seq 1 "$n"); do
    line=$(sed -n "${i}p" "$f")
    case "$line" in $'\t'[a-z]*) ;; *) continue;; esac
    case "$line" in *"{"|*"}"|*"["|*"]"|*","|*"})") continue;; esac
    total=$((total+1))
    rm -rf "$work/p" && cp -r policies "$work/p"
    sed -i "${i}d" "$work/p/trustgate/$(basename "$f")"
    if "$OPA" test "$work/p" bundles/example testdata/fixtures >/dev/null 2>&1 &&
       "$TRUSTGATE" test "$work/p" bundles/example testdata/fixtures >/dev/null 2>&1; then
      survivors=$((survivors+1)); echo "SURVIVED $f:$i:$line"
    fi
  done
done
echo "mutants: $total, survived: $survivors"

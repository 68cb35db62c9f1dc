#!/usr/bin/env bash
# Mutation test of the policy library and the example bundle's custom rules.
# Each mutant changes one thing and runs the Rego tests twice: opa test, and
# trustgate test (the server's capabilities, strict builtin errors). A mutant
# that passes both "survived": a condition no test pins. Mutants:
#   - delete one condition line of a rule body;
#   - replace the condition of a one-line rule (`head if cond`) by `true`;
#   - glob.match with no separators ([] instead of ["/"]).
# Usage: make mutate  (or OPA=... TRUSTGATE=... policies/mutation-test.sh)
set -u
cd "$(dirname "$0")/.."
OPA=${OPA:-.bin/opa}
TRUSTGATE=${TRUSTGATE:-.bin/trustgate}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
survivors=0 total=0

# passes runs both test commands on the mutated copy; trustgate test reports
# an evaluation error as ERROR, which counts as a failure.
passes() {
  "$OPA" test "$work/policies" "$work/example" testdata/fixtures >/dev/null 2>&1 || return 1
  out=$("$TRUSTGATE" test "$work/policies" "$work/example" testdata/fixtures 2>&1) || return 1
  case "$out" in *ERROR*|*FAIL*) return 1;; esac
  return 0
}

# mutant FILE SED-SCRIPT DESCRIPTION
mutant() {
  local f=$1 script=$2 what=$3
  rm -rf "$work/policies" "$work/example"
  cp -r policies "$work/policies" && cp -r bundles/example "$work/example"
  local copy
  case "$f" in
    policies/*) copy="$work/policies/${f#policies/}";;
    bundles/example/*) copy="$work/example/${f#bundles/example/}";;
  esac
  sed -i "$script" "$copy"
  if cmp -s "$f" "$copy"; then return; fi
  total=$((total+1))
  if passes; then
    survivors=$((survivors+1)); echo "SURVIVED $f: $what"
  fi
}

for f in policies/trustgate/*.rego bundles/example/custom.rego; do
  case "$f" in *_test.rego) continue;; esac
  n=$(wc -l < "$f")
  for i in $(seq 1 "$n"); do
    line=$(sed -n "${i}p" "$f")
    case "$line" in
      $'\t'[a-z]*)
        case "$line" in *"{"|*"}"|*"["|*"]"|*","|*"})") continue;; esac
        mutant "$f" "${i}d" "$i: deleted:$line";;
      [a-z]*" if "*)
        case "$line" in *"{") continue;; esac
        mutant "$f" "${i}s/ if .*/ if true/" "$i: condition replaced by true:$line";;
    esac
    case "$line" in *'glob.match('*'["/"]'*)
      mutant "$f" "${i}s/\[\"\/\"\]/[]/" "$i: glob.match without separators:$line";;
    esac
  done
done
echo "mutants: $total, survived: $survivors"
[ "$survivors" -eq 0 ]

# cli_helpers.sh — sourced by the CLI tests (test_*_cli.sh): a temporary
# directory removed at exit, and TAP-like checks that count failures.
# The caller sets -u and ends with: [ $failures -eq 0 ].
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
failures=0

pass() { echo "ok - $1"; }
flunk() {
    echo "FAIL - $1: $2"
    echo "  stdout: $(head -c 2000 "$TMP/out")"
    echo "  stderr: $(cat "$TMP/err")"
    failures=$((failures + 1))
}

# ok NAME CMD... — exit 0, nothing on stderr; stdout in $TMP/out.
ok() {
    name=$1; shift
    "$@" >"$TMP/out" 2>"$TMP/err"; status=$?
    if [ $status -ne 0 ]; then flunk "$name" "exit $status, expected 0"
    elif [ -s "$TMP/err" ]; then flunk "$name" "unexpected stderr"
    else pass "$name"; fi
}

# bad NAME STATUS MESSAGE CMD... — exit STATUS, exactly one line on stderr
# containing MESSAGE, nothing on stdout.
bad() {
    name=$1 want=$2 message=$3; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"; status=$?
    if [ $status -ne "$want" ]; then flunk "$name" "exit $status, expected $want"
    elif [ "$(wc -l <"$TMP/err")" -ne 1 ]; then flunk "$name" "stderr is not one line"
    elif ! grep -qF -- "$message" "$TMP/err"; then flunk "$name" "stderr lacks: $message"
    elif [ -s "$TMP/out" ]; then flunk "$name" "unexpected stdout"
    else pass "$name"; fi
}

# full NAME MESSAGE CMD... — with standard output on /dev/full (every write
# fails): exit 1, stderr containing MESSAGE.
full() {
    name=$1 message=$2; shift 2
    "$@" >/dev/full 2>"$TMP/err"; status=$?
    if [ $status -ne 1 ]; then flunk "$name" "exit $status, expected 1"
    elif ! grep -qF -- "$message" "$TMP/err"; then flunk "$name" "stderr lacks: $message"
    else pass "$name"; fi
}

# has NAME TEXT — the last stdout contains TEXT (a fixed string).
has() {
    if grep -qF -- "$2" "$TMP/out"; then pass "$1"; else flunk "$1" "stdout lacks: $2"; fi
}

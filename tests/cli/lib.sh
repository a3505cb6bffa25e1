# What the end-to-end tests of the practice CLI share (sourced by tests/cli/test_*.sh):
# a real practiced on 127.0.0.1 with a fresh practice, and checks that assert an exit
# code and what the output says. A failed check prints what was run and what came back;
# the script exits non-zero at the end (finish) if any check failed.
#
# The sourcing script sets PRACTICED and PRACTICE (the two programs) first.

T=$(mktemp -d /tmp/pm-cli-XXXXXX)
SERVER_PID=
FAILS=0
CHECKS=0

cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  if [ "$FAILS" -ne 0 ] && [ -f "$T/server.log" ]; then
    echo "---- server log (last 30 lines) ----" >&2
    tail -n 30 "$T/server.log" >&2
  fi
  rm -rf "$T"
}
trap cleanup EXIT

fail() {
  FAILS=$((FAILS + 1))
  echo "FAIL: $*" >&2
}

die() {
  fail "$*"
  echo "giving up: later checks depend on this one" >&2
  exit 1
}

# run [practice args...]: runs practice with $IN (if set) on stdin; sets RC, and leaves
# stdout and stderr in $T/out and $T/err.
run() {
  if [ -n "${IN+x}" ]; then
    printf '%s\n' "$IN" | "$PRACTICE" "$@" >"$T/out" 2>"$T/err"
    RC=${PIPESTATUS[1]}
  else
    "$PRACTICE" "$@" >"$T/out" 2>"$T/err" </dev/null
    RC=$?
  fi
  if grep -qE 'Sanitizer|runtime error:' "$T/err"; then
    fail "sanitizer report from: practice $*"
    cat "$T/err" >&2
  fi
}

show_run() {
  echo "  ran:    practice $*" >&2
  echo "  exit:   $RC" >&2
  echo "  stdout: $(head -c 3000 "$T/out")" >&2
  echo "  stderr: $(head -c 2000 "$T/err")" >&2
}

# expect CODE DESCRIPTION practice-args...: the command exits with CODE.
expect() {
  local want=$1 desc=$2
  shift 2
  CHECKS=$((CHECKS + 1))
  run "$@"
  if [ "$RC" != "$want" ]; then
    fail "$desc: exit $RC, expected $want"
    show_run "$@"
    return 1
  fi
  return 0
}

# has / lacks TEXT DESCRIPTION: the last command's stdout does (not) contain TEXT.
has() {
  CHECKS=$((CHECKS + 1))
  grep -qF -- "$1" "$T/out" && return 0
  fail "$2: stdout lacks '$1'"
  show_run "(previous command)"
  return 1
}
lacks() {
  CHECKS=$((CHECKS + 1))
  grep -qF -- "$1" "$T/out" || return 0
  fail "$2: stdout has '$1'"
  show_run "(previous command)"
  return 1
}
err_has() {
  CHECKS=$((CHECKS + 1))
  grep -qF -- "$1" "$T/err" && return 0
  fail "$2: stderr lacks '$1'"
  show_run "(previous command)"
  return 1
}

# json PYTHON-EXPR: evaluates the expression on the JSON in stdout (as d) and prints it.
json() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' \
    "$1" "$T/out" 2>/dev/null || echo "<not JSON: $1>"
}
json_err() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' \
    "$1" "$T/err" 2>/dev/null || echo "<not JSON: $1>"
}

# is ACTUAL EXPECTED DESCRIPTION
is() {
  CHECKS=$((CHECKS + 1))
  [ "$1" = "$2" ] && return 0
  fail "$3: got '$1', expected '$2'"
  return 1
}

mode_of() { stat -c %a "$1" 2>/dev/null || echo missing; }

# start_practice [serve options...]: a fresh practice (time zone Europe/Paris) in $T/p and
# its server on a free port; sets FP (the CA fingerprint), MANAGER, OTP (the manager's
# one-time password), PORT and SERVER_PID.
start_practice() {
  "$PRACTICED" init --data "$T/p" --name "T" --tz Europe/Paris --argon2-memory 256 \
    --argon2-passes 1 >"$T/init.txt" 2>&1 || die "practiced init: $(cat "$T/init.txt")"
  FP=$(awk '/^ca-fingerprint:/ {print $2}' "$T/init.txt")
  MANAGER=$(awk '/^manager:/ {print $2}' "$T/init.txt")
  OTP=$(awk '/^one-time-password:/ {print $2}' "$T/init.txt")
  if [ ${#FP} -ne 64 ] || [ -z "$MANAGER" ] || [ -z "$OTP" ]; then
    die "cannot parse init output"
  fi
  "$PRACTICED" serve --data "$T/p" --listen 127.0.0.1:0 --port-file "$T/port" \
    --login-delay-ms 0 "$@" 2>"$T/server.log" &
  SERVER_PID=$!
  for _ in $(seq 300); do
    [ -s "$T/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "practiced serve exited: $(cat "$T/server.log")"
    sleep 0.1
  done
  PORT=$(cat "$T/port" 2>/dev/null)
  [ -n "$PORT" ] || die "practiced serve did not write its port"
}

# finish: the verdict.
finish() {
  if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS of $CHECKS checks failed" >&2
    exit 1
  fi
  echo "all $CHECKS checks passed"
}

#!/usr/bin/env bash
# End-to-end tests of the waiting-room board and the simulator against a real practiced:
#
#   test_board.sh PATH/TO/practiced PATH/TO/practice PATH/TO/board_tool PART
#
# PART is one of:
#   screen    'practice board' in a detached tmux: enrolment, tickets and calls as the
#             front desk checks patients in and rooms them, no patient data on the screen,
#             the last board kept with a notice while the server is down, resumed when it
#             is back, the layout following the terminal's size, a silent login again when
#             the display's session reaches its maximum age;
#   bytes     every envelope a display account receives over a day of flow (arrivals,
#             walk-ins, rooms, moves, undo, cancellations, check-outs), recorded by
#             board_tool and scanned for the patients' names, initials, birth dates and
#             MRNs (none may be there; a staff recording of the same day must have them);
#   simulate  'practice simulate' for 20-odd seconds against a server at --clock-speed 60,
#             then the day's flow must show arrivals, rooms and check-outs.
#
# Every wait is bounded; every check can fail.
set -u

PRACTICED=${1:?usage: test_board.sh PRACTICED PRACTICE BOARD_TOOL PART}
PRACTICE=${2:?usage: test_board.sh PRACTICED PRACTICE BOARD_TOOL PART}
BOARD_TOOL=${3:?usage: test_board.sh PRACTICED PRACTICE BOARD_TOOL PART}
PART=${4:?usage: test_board.sh PRACTICED PRACTICE BOARD_TOOL PART}
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

export PRACTICE_CONFIG="$T/cfg"
export LANG=C.UTF-8 LC_ALL=C.UTF-8
unset IN
PASSWORD="board test password 1"
TMUX_SOCK="$T/tmux.sock"
RECORDERS=()
SECRET=""

board_cleanup() {
  tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
  for pid in "${RECORDERS[@]}"; do kill "$pid" 2>/dev/null; done
  cleanup
}
trap board_cleanup EXIT

# check CONDITION-COMMAND... DESCRIPTION: counts a check; fails it when the command fails.
check() {
  local desc=${*: -1}
  CHECKS=$((CHECKS + 1))
  "${@:1:$#-1}" && return 0
  fail "$desc"
  return 1
}

login_manager() {
  printf '%s\n' "$PASSWORD" | "$PRACTICE" login "$MANAGER" >/dev/null 2>&1 ||
    die "cannot log in as $MANAGER again"
}

# connect and log in as the manager, replacing the one-time password
enrol_manager() {
  expect 0 "connect" connect "127.0.0.1:$PORT" --fingerprint "$FP" || die "cannot connect"
  IN="$OTP
$PASSWORD
$PASSWORD"
  expect 0 "manager login" login "$MANAGER" || die "cannot log in"
  unset IN
}

# the practice's set-up: a location, three rooms, two providers with hours all day every
# day, visit types (minutes of the quick one given)
set_up() {
  local quick=${1:-15}
  expect 0 "location add" location add main --name "Main Street" || die "location add"
  for r in 1 2 3; do
    expect 0 "room add" room add "r$r" --location main --name "Room $r" || die "room add"
  done
  expect 0 "provider add" provider add dr-a --name "Ada Byron" --location main || die "provider"
  expect 0 "provider add" provider add dr-b --name "Ben Kai" --location main || die "provider"
  expect 0 "visit type add" visit-type add checkup --name "Check-up" --minutes "$quick" ||
    die "visit type"
  for p in dr-a dr-b; do
    expect 0 "template set" template set "$p" --block "daily 00:00-24:00 main" || die "template"
  done
}

# The helpers below that make something set the variable named first to what was made
# (so that a failure stops the script here, not in a subshell).

# add_patient VAR FIRST LAST DOB: VAR = the new patient's MRN
add_patient() {
  "$PRACTICE" --json patient add --first "$2" --last "$3" --dob "$4" --sex other \
    --phone "07700 900$((RANDOM % 900 + 100)):mobile" >"$T/out" 2>"$T/err" ||
    die "patient add $2 $3: $(cat "$T/err")"
  printf -v "$1" '%s' "$(json 'd["mrn"]')"
}

# book VAR MRN HH:MM [PROVIDER]: books a check-up on the test clock's day; VAR = its id
book() {
  "$PRACTICE" --json book "$2" checkup --provider "${4:-dr-a}" --at "$DAY $3" >"$T/out" \
    2>"$T/err" || die "book $2 at $3: $(cat "$T/err")"
  printf -v "$1" '%s' "$(json 'd["id"]')"
}

# tool VAR board_tool-args...: VAR = what board_tool printed
tool() {
  local var=$1
  shift
  "$BOARD_TOOL" "$@" >"$T/tool.out" 2>"$T/tool.err" || die "board_tool $*: $(cat "$T/tool.err")"
  printf -v "$var" '%s' "$(cat "$T/tool.out")"
}

# device_secret VAR NAME: makes a display device for main; VAR = its secret
device_secret() {
  "$PRACTICE" --json device add "$2" --location main >"$T/out" 2>"$T/err" ||
    die "device add: $(cat "$T/err")"
  printf -v "$1" '%s' "$(json 'd["one_time_password"]')"
}

# The test clock: the server's scheduling "now" (PRACTICED_TEST_CLOCK), a Tuesday.
DAY=2030-03-12
set_clock() { # HH:MM
  TZ=Europe/Paris date -d "$DAY $1" +%s >"$T/clock.new" && mv "$T/clock.new" "$T/clock"
}

# restart_server [serve options...]: practiced serve on the same data and port
restart_server() {
  "$PRACTICED" serve --data "$T/p" --listen "127.0.0.1:$PORT" --login-delay-ms 0 "$@" \
    2>>"$T/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q "serving" <(tail -n 3 "$T/server.log") && return 0
    sleep 0.1
  done
  die "practiced did not start again"
}

# ---- the screen ------------------------------------------------------------------------

pane() { tmux -S "$TMUX_SOCK" capture-pane -p -t board 2>/dev/null | tee -a "$T/panes.txt"; }

# wait_pane TEXT SECONDS: until the board's screen shows TEXT
wait_pane() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt "$deadline" ]; do
    pane >"$T/pane.txt"
    grep -qF -- "$1" "$T/pane.txt" && return 0
    sleep 0.2
  done
  return 1
}

# wait_pane_gone TEXT SECONDS
wait_pane_gone() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt "$deadline" ]; do
    pane >"$T/pane.txt"
    grep -qF -- "$1" "$T/pane.txt" || return 0
    sleep 0.2
  done
  return 1
}

see_pane() { # TEXT DESCRIPTION [SECONDS]
  CHECKS=$((CHECKS + 1))
  wait_pane "$1" "${3:-10}" && return 0
  fail "$2: the board does not show '$1'"
  sed 's/^/  | /' "$T/pane.txt" >&2
  return 1
}

# Blocks of the big font on the screen now.
blocks() { pane | grep -o '█' | wc -l; }

# No patient data on anything the board has shown.
private_screen() {
  local what
  for what in "${SECRETS[@]}"; do
    CHECKS=$((CHECKS + 1))
    if grep -qF -- "$what" "$T/panes.txt"; then
      fail "the board showed '$what'"
      grep -F -- "$what" "$T/panes.txt" | head -3 | sed 's/^/  | /' >&2
    fi
  done
}

part_screen() {
  set_clock 10:00
  export PRACTICED_TEST_CLOCK="$T/clock"
  # Sessions end after 25 s: the board must log in again by itself.
  start_practice --session-max 25
  enrol_manager
  set_up
  add_patient P1 Quintessa Ravenscroft 1961-04-23
  add_patient P2 Bartholomew Zedekiah 1977-11-05
  add_patient P3 Wilhelmina Xanthopoulos 1990-02-14
  add_patient P4 Zoë Ørnholt 1985-09-30
  SECRETS=(Quintessa Ravenscroft Bartholomew Zedekiah Wilhelmina Xanthopoulos Zoë Ørnholt
    QR "Q. R" Q.R BZ "B. Z" B.Z WX "W. X" W.X "ZØ" 1961-04-23 1977-11-05 1990-02-14
    1985-09-30 23/04/1961 05/11/1977 14/02/1990 30/09/1985 "$P1" "$P2" "$P3" "$P4")
  book A1 "$P1" 10:10
  book A2 "$P2" 10:30
  book A3 "$P3" 10:45 dr-b
  device_secret SECRET lobby
  [ ${#SECRET} -ge 20 ] || die "no device secret"

  # enrolment: wrong secret, a staff account, then the display's own
  IN="not-the-secret"
  expect 4 "a wrong secret is refused" board --device lobby --enrol &&
    err_has "password" "says the secret is wrong"
  CHECKS=$((CHECKS + 1))
  [ ! -e "$T/cfg/display" ] || fail "a refused secret was kept"
  IN="$PASSWORD"
  expect 5 "a staff account is not a display" board --device "$MANAGER" --enrol &&
    err_has "not a display device account" "says why"
  IN="$SECRET"
  expect 0 "enrol the display" board --device lobby --location main --enrol &&
    has "board of main" "enrolment names the location"
  unset IN
  is "$(mode_of "$T/cfg/display")" 600 "the display's secret is kept 0600"
  expect 8 "another location than the display's" board --location north
  expect 2 "board outside a terminal" board

  # the board, in a terminal 100 x 30
  BOARD_T0=$SECONDS
  tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s board -x 100 -y 30 \
    "$PRACTICE board --location main 2>$T/board.err; echo board exited \$?; sleep 600" ||
    die "cannot start tmux"
  see_pane "Main Street" "the location's name" 15 || die "the board does not come up"
  see_pane "10:00" "the practice's time on the test clock"
  see_pane "Waiting: 0" "nobody waits yet"

  tool _ arrive "$A1"
  tool _ arrive "$A2"
  see_pane "M-002" "the second ticket appears"
  see_pane "M-001  ~10 min" "the first ticket with its estimated wait"
  see_pane "Waiting: 2" "two waiting"
  tool _ room "$A1" r3
  see_pane "Ticket M-001, please go to Room 3" "the call to a room"
  check [ "$(blocks)" -gt 100 ] "the call is in the big block font"
  see_pane "Waiting: 1" "one left waiting"
  tool WALK walkin "$P4" main checkup dr-b
  see_pane "${WALK%% *}" "a walk-in's ticket appears"
  tool _ room "$A2" r1
  see_pane "Ticket M-002, please go to Room 1" "the newest call is the big one"
  see_pane "Also called:  M-001" "the earlier call is listed under it"

  # the server goes away: the board stays, says so, and comes back
  kill -9 "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
  see_pane "Reconnecting" "a notice while the server is away" 10
  see_pane "Ticket M-002, please go to Room 1" "the last board stays up"
  see_pane "${WALK%% *}" "the waiting tickets stay up"
  sleep 2
  pane >"$T/pane.txt"
  CHECKS=$((CHECKS + 1))
  grep -qF "Waiting: 1" "$T/pane.txt" || fail "the board was not kept while reconnecting"
  restart_server --session-max 25
  CHECKS=$((CHECKS + 1))
  wait_pane_gone "Reconnecting" 20 || fail "the board did not reconnect"
  tool A3_TICKET arrive "$A3"
  see_pane "${A3_TICKET%% *}" "a check-in after the restart appears"
  see_pane "Waiting: 2" "and the count follows"

  # the terminal's size: bigger letters on a big screen, then back
  small=$(blocks)
  tmux -S "$TMUX_SOCK" resize-window -t board -x 240 -y 70
  sleep 1.5
  big=$(blocks)
  check [ "$big" -gt $((small * 3)) ] "a big screen gets bigger letters ($small -> $big blocks)"
  tmux -S "$TMUX_SOCK" resize-window -t board -x 80 -y 24
  see_pane "Ticket M-002, please go to Room 1" "legible at 80x24" 5
  see_pane "Waiting: 2" "the waiting count at 80x24"

  # the display's session ends (25 s after the board logged in): it logs in again by
  # itself, silently, and goes on showing the flow
  while [ $SECONDS -lt $((BOARD_T0 + 27)) ]; do sleep 0.5; done
  login_manager
  logins=0
  deadline=$((SECONDS + 15))
  while [ $SECONDS -lt $deadline ] && [ "$logins" -lt 3 ]; do
    "$PRACTICE" --json audit --user lobby >"$T/audit.json" 2>/dev/null
    logins=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(1 for e in d["entries"] if e["action"] == "login" and e["outcome"] == "success"))' \
      "$T/audit.json" 2>/dev/null || echo 0)
    sleep 0.5
  done
  check [ "$logins" -ge 3 ] "the display logged in at enrolment, at start and after its session ended ($logins logins)"
  tool _ undo "$A2"
  see_pane "Waiting: 3" "a change after the session ended shows: the board logged in again" 15
  CHECKS=$((CHECKS + 1))
  if grep -qE "may not show|Reconnecting" "$T/pane.txt"; then fail "the board lost its access"; fi

  private_screen
  tmux -S "$TMUX_SOCK" send-keys -t board q
  CHECKS=$((CHECKS + 1))
  wait_pane "board exited 0" 5 || fail "q does not quit the board"
  if grep -qE 'Sanitizer|runtime error' "$T/board.err"; then
    fail "sanitizer report from the board"
    cat "$T/board.err" >&2
  fi
}

# ---- the bytes a display receives ------------------------------------------------------

part_bytes() {
  set_clock 09:00
  export PRACTICED_TEST_CLOCK="$T/clock"
  start_practice
  enrol_manager
  set_up
  add_patient P1 Quintessa Ravenscroft 1961-04-23
  add_patient P2 Bartholomew Zedekiah 1977-11-05
  add_patient P3 Wilhelmina Xanthopoulos 1990-02-14
  add_patient P4 Zoë Ørnholt 1985-09-30
  device_secret SECRET lobby
  book A1 "$P1" 09:10
  book A2 "$P2" 09:30
  book A3 "$P3" 09:50 dr-b

  "$BOARD_TOOL" record main "$T/display.bin" lobby "$SECRET" >"$T/rec1.out" 2>"$T/rec1.err" &
  RECORDERS+=($!)
  "$BOARD_TOOL" record main "$T/staff.bin" >"$T/rec2.out" 2>"$T/rec2.err" &
  RECORDERS+=($!)
  for _ in $(seq 100); do
    grep -q recording "$T/rec1.out" && grep -q recording "$T/rec2.out" && break
    sleep 0.1
  done
  grep -q recording "$T/rec1.out" || die "the display's recorder: $(cat "$T/rec1.err")"
  grep -q recording "$T/rec2.out" || die "the staff recorder: $(cat "$T/rec2.err")"

  # a day of flow
  tool _ arrive "$A1"
  tool _ arrive "$A2"
  tool _ walkin "$P4" main checkup dr-b
  set_clock 09:12
  tool _ room "$A1" r1
  tool _ room "$A2" r2
  tool _ room "$A2" r3 # moved to another room
  tool _ undo "$A2"    # back to the waiting room
  expect 0 "move a booking" appt move "$A3" --at "$DAY 10:00"
  tool _ see "$A1"
  set_clock 09:30
  tool _ checkout "$A1"
  expect 0 "cancel a booking" appt cancel "$A3" --reason "unwell"
  book A5 "$P1" 11:00
  tool _ arrive "$A5"
  tool _ room "$A5" r1
  sleep 1 # the last events reach the recorders
  for pid in "${RECORDERS[@]}"; do kill -TERM "$pid"; done
  for pid in "${RECORDERS[@]}"; do wait "$pid"; done
  RECORDERS=()

  CHECKS=$((CHECKS + 1))
  [ -s "$T/display.bin" ] || die "nothing recorded for the display"
  events=$(grep -o 'recorded [0-9]*' "$T/rec1.err" | awk '{print $2}')
  check [ "${events:-0}" -ge 12 ] "the display received the day's board changes ($events envelopes)"
  # what the board is for is there...
  for what in M-001 M-002 M-003 M-004 "Room 1" "Main Street" board/main; do
    CHECKS=$((CHECKS + 1))
    LC_ALL=C grep -qaF -- "$what" "$T/display.bin" || fail "the display never received '$what'"
  done
  # ...and nothing that names a patient
  for what in Quintessa Ravenscroft Bartholomew Zedekiah Wilhelmina Xanthopoulos Zoë Ørnholt \
    QR "Q. R" Q.R BZ "B. Z" B.Z WX "W. X" W.X "ZØ" 1961-04-23 1977-11-05 1990-02-14 \
    1985-09-30 23/04/1961 05/11/1977 14/02/1990 30/09/1985 19610423 19771105 "$P1" "$P2" "$P3" \
    "$P4" "${P1:0:5}" "${P2:0:5}"; do
    CHECKS=$((CHECKS + 1))
    if LC_ALL=C grep -qaF -- "$what" "$T/display.bin"; then
      fail "the display received '$what'"
    fi
  done
  # the same scan finds them in what staff receive (the scan can fail)
  for what in Ravenscroft Zedekiah Ørnholt "$P1" "$P4"; do
    CHECKS=$((CHECKS + 1))
    LC_ALL=C grep -qaF -- "$what" "$T/staff.bin" || fail "the staff recording lacks '$what'"
  done
}

# ---- the simulator ---------------------------------------------------------------------

part_simulate() {
  local before="" today="" yesterday=""
  start_practice --clock-speed 60
  enrol_manager
  expect 6 "simulate without a location" simulate --speed 60 --duration 0.1 &&
    err_has "no location" "says what is missing"
  set_up 5
  expect 6 "simulate without patients" simulate --speed 60 --duration 0.1 &&
    err_has "no patients" "says what is missing"
  for i in $(seq 1 14); do
    add_patient _ "Sim$i" "Patient$i" "1980-01-$(printf %02d "$i")"
  done
  "$PRACTICE" --json user add rosa --role receptionist >"$T/out" 2>"$T/err" || die "user add"
  ROSA_OTP=$(json 'd["one_time_password"]')
  "$PRACTICE" --json user add drc --role clinician >"$T/out" 2>"$T/err" || die "user add"
  DRC_OTP=$(json 'd["one_time_password"]')
  IN="$DRC_OTP
$PASSWORD
$PASSWORD"
  expect 0 "clinician login" login drc
  unset IN
  expect 5 "a clinician may not simulate" simulate --speed 60 --duration 0.1 &&
    err_has "receptionist" "says who may"
  IN="$ROSA_OTP
$PASSWORD
$PASSWORD"
  expect 0 "receptionist login" login rosa || die "receptionist login"
  unset IN

  tool before flow main
  timeout 60 "$PRACTICE" simulate --speed 60 --seed 1 --duration 0.4 >"$T/sim.out" 2>"$T/sim.err"
  RC=$?
  CHECKS=$((CHECKS + 1))
  if [ "$RC" != 0 ]; then
    fail "simulate: exit $RC"
    tail -n 20 "$T/sim.out" "$T/sim.err" >&2
  fi
  if grep -qE 'Sanitizer|runtime error' "$T/sim.err"; then
    fail "sanitizer report from simulate"
    cat "$T/sim.err" >&2
  fi
  CHECKS=$((CHECKS + 1))
  grep -q "^Simulating Main Street (main)" "$T/sim.out" || fail "simulate says what it plays"
  CHECKS=$((CHECKS + 1))
  grep -q "^Simulated 0 h 2[0-9] min at main" "$T/sim.out" ||
    fail "simulate stops after --duration: $(tail -n 1 "$T/sim.out")"
  # the day's flow as the server has it (and yesterday's, when the run crossed midnight)
  tool today flow main
  date=$(sed -n 's/^date=\([^ ]*\).*/\1/p' <<<"$today")
  tool yesterday flow main "$(date -d "$date -1 day" +%F)"
  total() { # FIELD
    local a b
    a=$(grep -o "$1=[0-9]*" <<<"$today" | cut -d= -f2)
    b=$(grep -o "$1=[0-9]*" <<<"$yesterday" | cut -d= -f2)
    echo $((a + b))
  }
  echo "flow before: $before"
  echo "flow after:  $today / yesterday: $yesterday"
  check [ "$(total appointments)" -ge 5 ] "bookings were made ($(total appointments))"
  check [ "$(total arrived)" -ge 2 ] "patients arrived ($(total arrived))"
  check [ "$(total roomed)" -ge 1 ] "patients were roomed ($(total roomed))"
  check [ "$(total checked_out)" -ge 1 ] "patients were checked out ($(total checked_out))"
  arrived_lines=$(grep -cE '  (arrived|walk-in) ' "$T/sim.out")
  check [ "$arrived_lines" -ge 2 ] "simulate prints a line per arrival ($arrived_lines)"
  CHECKS=$((CHECKS + 1))
  grep -qE '  checked out +M-[0-9]+' "$T/sim.out" || fail "simulate prints its check-outs"
}

case "$PART" in
  screen) part_screen ;;
  bytes) part_bytes ;;
  simulate) part_simulate ;;
  *) die "unknown part $PART" ;;
esac
finish

#!/usr/bin/env bash
# End-to-end test of 'practice desk': a real practiced on 127.0.0.1 with a practice set
# up through the 'practice' command, and the desk running in a detached tmux session at
# 80x24. Keys are sent as a receptionist would type them and the screen is read back
# with 'tmux capture-pane': each check looks for what a person would see there.
#
#   test_desk.sh PATH/TO/practiced PATH/TO/practice
#
# The server's clock is pinned (PRACTICED_TEST_CLOCK) to a Tuesday at 09:00 so the day's
# bookings, tickets and lateness do not depend on when the test runs.
set -u

PRACTICED=${1:?usage: test_desk.sh PRACTICED PRACTICE}
PRACTICE=${2:?usage: test_desk.sh PRACTICED PRACTICE}

# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

TMUX_SOCK="$T/tmux.sock"
DAY=2030-03-12

desk_cleanup() {
  tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
  if [ "$FAILS" -ne 0 ]; then
    echo "---- desk stderr ----" >&2
    cat "$T"/*.err >&2 2>/dev/null
  fi
  cleanup
}
trap desk_cleanup EXIT

# cli CONFIG ARGS...: runs practice with the configuration in $T/CONFIG.
cli() {
  local cfg=$1
  shift
  PRACTICE_CONFIG="$T/$cfg" run "$@"
}

must() {
  cli "$@"
  [ "$RC" = 0 ] || die "practice ${*:2}: exit $RC: $(cat "$T/err")"
}

# ---- the screen ------------------------------------------------------------------------

# The tmux session read and typed into: $SCREEN, else "desk".
screen() {
  tmux -S "$TMUX_SOCK" capture-pane -p -t "${SCREEN:-desk}" 2>/dev/null
}

keys() {
  tmux -S "$TMUX_SOCK" send-keys -t "${SCREEN:-desk}" "$@"
}

show_screen() {
  echo "---- the screen ----" >&2
  screen | sed 's/^/  |/' >&2
}

# see TEXT DESCRIPTION [SECONDS]: TEXT shows on the screen within SECONDS (default 5).
see() {
  local text=$1 desc=$2 limit=${3:-5}
  CHECKS=$((CHECKS + 1))
  local end=$(($(date +%s%N) + limit * 1000000000))
  while [ "$(date +%s%N)" -lt "$end" ]; do
    screen | grep -qF -- "$text" && return 0
    sleep 0.05
  done
  fail "$desc: '$text' not on the screen within ${limit}s"
  show_screen
  return 1
}

# gone TEXT DESCRIPTION [SECONDS]: TEXT leaves the screen within SECONDS.
gone() {
  local text=$1 desc=$2 limit=${3:-5}
  CHECKS=$((CHECKS + 1))
  local end=$(($(date +%s%N) + limit * 1000000000))
  while [ "$(date +%s%N)" -lt "$end" ]; do
    screen | grep -qF -- "$text" || return 0
    sleep 0.05
  done
  fail "$desc: '$text' still on the screen after ${limit}s"
  show_screen
  return 1
}

# line_has PATTERN TEXT DESCRIPTION: the screen line matching PATTERN (grep -E) contains
# TEXT, within 5 seconds.
line_has() {
  local pat=$1 text=$2 desc=$3
  CHECKS=$((CHECKS + 1))
  for _ in $(seq 100); do
    screen | grep -E -- "$pat" | grep -qF -- "$text" && return 0
    sleep 0.05
  done
  fail "$desc: no line matching /$pat/ with '$text'"
  show_screen
  return 1
}

# ---- a practice with a day of bookings -------------------------------------------------

TZ=Europe/Paris date -d "$DAY 09:00" +%s >"$T/clock"
export PRACTICED_TEST_CLOCK="$T/clock"
start_practice

# restart_server: practiced again on the same port, as after a crash or an upgrade.
restart_server() {
  rm -f "$T/port"
  "$PRACTICED" serve --data "$T/p" --listen "127.0.0.1:$PORT" --port-file "$T/port" \
    --login-delay-ms 0 2>>"$T/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    [ -s "$T/port" ] && return 0
    sleep 0.05
  done
  die "practiced did not restart: $(tail -n 5 "$T/server.log")"
}

must cfg connect "127.0.0.1:$PORT" --fingerprint "$FP"
IN=$(printf '%s\n%s\n%s' "$OTP" "manager-pass-1" "manager-pass-1") must cfg login "$MANAGER"

must cfg location add main --name "Main Street" --hours "mon-fri 08:00-18:00"
must cfg room add r1 --location main --name "Room 1"
must cfg room add r2 --location main --name "Room 2"
must cfg provider add dr-okafor --name "Chidi Okafor" --location main
must cfg provider add dr-lee --name "Ann Lee" --location main
must cfg visit-type add checkup --name "Check-up" --minutes 20
must cfg template set dr-okafor --from 2030-03-01 --block "mon-fri 08:00-18:00 main"
must cfg template set dr-lee --from 2030-03-01 --block "mon-fri 08:00-18:00 main"

add_patient() {
  must cfg --json patient add --first "$1" --last "$2" --dob "$3"
  json 'd["mrn"]'
}
MRN_DUPONT=$(add_patient Marie Dupont 1984-03-02)
MRN_MARTIN=$(add_patient Paul Martin 1990-07-14)
MRN_BERNARD=$(add_patient Lucie Bernard 1975-11-30)
MRN_MOREAU=$(add_patient Hugo Moreau 2001-01-05)
MRN_PETIT=$(add_patient Emma Petit 1969-05-21)
MRN_NUNEZ=$(add_patient Zoë Núñez 1988-08-08)

book() {
  must cfg --json book "$1" checkup --provider "$2" --at "$DAY $3"
  json 'd["id"]'
}
book "$MRN_DUPONT" dr-okafor 09:00 >/dev/null
book "$MRN_MARTIN" dr-okafor 09:20 >/dev/null
BERNARD_APPT=$(book "$MRN_BERNARD" dr-lee 09:40)
book "$MRN_NUNEZ" dr-okafor 10:40 >/dev/null

# Anna, a receptionist, on her own desk.
must cfg --json user add anna --role receptionist --name "Anna Schmidt"
ANNA_OTP=$(json 'd["one_time_password"]')
must cfg-anna connect "127.0.0.1:$PORT" --fingerprint "$FP"
IN=$(printf '%s\n%s\n%s' "$ANNA_OTP" "anna-pass-123" "anna-pass-123") must cfg-anna login anna

# ---- the desk at 80x24 -----------------------------------------------------------------

cli cfg-anna desk
is "$RC" "2" "the desk refuses to run without a terminal"

# start_desk NAME ARGS...: 'practice desk ARGS' as Anna in tmux session NAME at 80x24; its
# stderr goes to $T/NAME.err and its exit code to $T/NAME.exit.
start_desk() {
  local name=$1
  shift
  tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s "$name" -x 80 -y 24 \
    "env PRACTICE_CONFIG='$T/cfg-anna' LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen \
     ASAN_OPTIONS='${ASAN_OPTIONS:-}' '$PRACTICE' desk $* 2>'$T/$name.err'; \
     echo \$? >'$T/$name.exit'; sleep 60" ||
    die "cannot start tmux"
}

# exit_code NAME: the desk's exit code once it has exited (5 seconds at most).
exit_code() {
  for _ in $(seq 100); do
    [ -s "$T/$1.exit" ] && break
    sleep 0.05
  done
  cat "$T/$1.exit" 2>/dev/null
}

# no_sanitizer_report NAME
no_sanitizer_report() {
  CHECKS=$((CHECKS + 1))
  if grep -qE 'Sanitizer|runtime error:' "$T/$1.err" 2>/dev/null; then
    fail "sanitizer report from the desk ($1)"
    cat "$T/$1.err" >&2
  fi
}

# another day, given on the command line, then q
start_desk other --date 2030-03-13
SCREEN=other see "Wed 13 Mar 2030 (view only)" "--date shows that day"
SCREEN=other see "No appointments this day." "the other day has no appointments"
SCREEN=other keys q
is "$(exit_code other)" "0" "q leaves the desk with exit code 0"
no_sanitizer_report other

start_desk desk

see " T | Main Street" "the header names the practice and the location" ||
  die "the desk did not start"
see "Tue 12 Mar 2030" "the header shows the day"
see "live" "the header says the desk is live"
see "09:00" "the header shows the server's time"
line_has "Dupont, Marie" "booked" "the 09:00 appointment is booked"
line_has "Dupont, Marie" "Check-up" "the visit type is shown"
line_has "Martin, Paul" "09:20" "the 09:20 appointment is there"
line_has "^ 10:40 Núñez, Zoë  " "Check-up" "a name with accents is shown whole"
CHECKS=$((CHECKS + 1))
screen | PYTHONIOENCODING=utf-8 python3 -c '
import sys
rows = [l for l in sys.stdin.read().splitlines() if "Dupont" in l or "Núñez" in l]
sys.exit(len(rows) != 2 or rows[0].index("Check-up") != rows[1].index("Check-up"))' ||
  fail "a name with accents keeps the next column in its place"
see "-- Chidi Okafor" "the schedule is grouped by provider"
see "-- Ann Lee" "both providers have a group"
see "Nobody is waiting." "the waiting room is empty"
line_has "^>09:40" "Bernard, Lucie" "the first appointment is selected"
keys Down
line_has "^>09:00" "Dupont, Marie" "Down moves the selection"

# check in, room, hand over, check out, undo: single keys on the selected appointment
keys i
line_has "Dupont, Marie" "M-001 arrived" "check-in gives a ticket"
line_has "^ ?M-001" "Dupont, Marie" "the waiting room lists the ticket and the name"
line_has "^ ?M-001" "waited 0m" "the waiting room shows the time waited"
line_has "^ ?M-001" "est " "the waiting room shows the estimated wait"
see "Checked in Dupont, Marie: ticket M-001" "the status line confirms"
see "1 waiting, 0 in a room" "the waiting room counts"

keys r
see "Room for Dupont, Marie" "r asks for a room"
line_has "Room 1" "free" "the rooms of the location are offered"
keys Enter
line_has "Dupont, Marie" "M-001 in Room 1" "roomed in the room picked"
line_has "^ ?M-001" "in Room 1" "the waiting room shows the room"

keys p
line_has "Dupont, Marie" "M-001 with provider" "p hands to the provider"
gone "waited 0m" "with the provider, the patient leaves the waiting room"
keys o
line_has "Dupont, Marie" "M-001 checked out" "o checks out"
keys u
line_has "Dupont, Marie" "M-001 with provider" "u undoes the check-out"

# moving the selection, and it stays on its appointment
keys j
line_has "^>09:20" "Martin, Paul" "j moves the selection"
keys i
line_has "Martin, Paul" "M-002 arrived" "the second check-in gets the next ticket"

# a change from another desk shows within a second, without a key
must cfg book "$MRN_PETIT" checkup --provider dr-okafor --at "$DAY 10:00"
see "Petit, Emma" "a booking made elsewhere appears" 1
line_has "Petit, Emma" "booked" "with its status"
line_has "^>09:20" "Martin, Paul" "the selection stayed on its appointment"
must cfg --json patient search petit
must cfg --json appts "$MRN_PETIT"
PETIT_APPT=$(json 'd[0]["id"]')
must cfg appt cancel "$PETIT_APPT" --reason "called in"
gone "Petit, Emma" "a cancellation made elsewhere disappears" 1

# walk-in: patient search, visit type, provider
keys w
see "Patient: name" "w asks for the patient"
keys Moreau Enter
see "1 patient match \"Moreau\"" "the search finds the patient"
keys Enter
see "Visit type" "then the visit type"
keys Enter
see "Whoever is free first" "then the provider"
keys Enter
see "Walk-in Moreau, Hugo: ticket M-003" "the walk-in gets a ticket"
line_has "^ ?>?M-003" "Moreau, Hugo" "the walk-in waits in the waiting room"
see "walk-in" "the walk-in is marked in the schedule"
see ">> Waiting room" "the walk-in's pane is the active one"
keys Tab
see ">> Schedule" "Tab switches to the schedule"
keys Tab
see ">> Waiting room" "and back to the waiting room"
keys p
see "Who sees Moreau, Hugo" "p on a walk-in for anyone asks who sees them"
line_has "Whoever is free first" "" "the first choice leaves it to the wait estimate"
keys Escape
gone "Who sees" "Escape leaves the walk-in waiting"

# patient search shows the next appointment
keys Escape
keys /
see "Patient: name" "/ asks for a patient"
keys Bernard Enter Enter
see "Bernard, Lucie" "the card names the patient"
see "MRN $MRN_BERNARD" "the card shows the MRN"
see "Next appointment: Tue 12 Mar 09:40, Check-up" "the card shows the next appointment"
keys q
gone "Next appointment" "any key closes the card"

# quick booking from a free slot
keys b
see "Visit type" "b asks for the visit type"
keys Enter
see "Free times for Check-up" "then lists free times"
line_has "Tue 12 Mar" "Ann Lee" "the free times name the provider"
keys Down Enter
see "Patient: name" "then asks for the patient"
keys Petit Enter Enter
see "Booked Petit, Emma" "the booking is confirmed"
see "Petit, Emma" "the new booking shows in the schedule"

# errors in plain words: checking in a patient who is already with the provider
see ">> Schedule" "after a booking the schedule is the active pane"
keys g
line_has "^>09:15" "Petit, Emma" "g goes to the first appointment"
keys j j
line_has "^>09:00" "Dupont, Marie" "j moves down across the provider heading"
keys i
see "cannot check in: the patient is with the provider" "a refused step says why"

# a stale screen: the desk is paused while someone else changes the appointment, then
# the key typed meanwhile names the old version and the server refuses it
keys k
line_has "^>09:40" "Bernard, Lucie" "k moves up"
DESK_PID=$(pgrep -P "$(tmux -S "$TMUX_SOCK" display -p -t desk '#{pane_pid}')" | head -n 1)
kill -STOP "$DESK_PID"
must cfg appt notes "$BERNARD_APPT" "prefers Room 2"
keys i
sleep 0.2
kill -CONT "$DESK_PID"
see "Not saved: appointment $BERNARD_APPT was changed by $MANAGER since you read it" \
  "a stale step is refused in plain words"
line_has "Bernard, Lucie" "booked" "the refused check-in did not happen"
keys i
line_has "Bernard, Lucie" "arrived" "after the refresh the same key works"

# another day is shown to look at only
keys n
see "Wed 13 Mar 2030 (view only)" "n shows the next day"
see "No appointments this day." "the next day is empty"
keys i
see "to look at only" "no flow steps on another day"
keys t
see "Dupont, Marie" "t comes back to today"

# a larger terminal shows more: the MRN and the panes side by side
tmux -S "$TMUX_SOCK" resize-window -t desk -x 160 -y 40 2>/dev/null ||
  tmux -S "$TMUX_SOCK" resize-pane -t desk -x 160 -y 40
see "$MRN_DUPONT" "a wide screen shows the MRN"
line_has "Schedule:" "Waiting room:" "a wide screen has the panes side by side"
tmux -S "$TMUX_SOCK" resize-window -t desk -x 80 -y 24 2>/dev/null ||
  tmux -S "$TMUX_SOCK" resize-pane -t desk -x 80 -y 24
gone "$MRN_DUPONT" "back at 80 columns, the MRN goes"

# the server goes away and comes back: the desk keeps its data and resumes
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
see "reconnecting" "the header says it is reconnecting"
see "Dupont, Marie" "the last data stays on the screen"
restart_server
see "live" "the desk is live again" 15
see "Reconnected" "the status line says so"
must cfg book "$MRN_MOREAU" checkup --provider dr-lee --at "$DAY 11:00"
line_has "11:00" "Moreau, Hugo" "after the reconnect, changes arrive again" 2

# away across midnight: back after the server's day has turned, the desk that showed
# today shows the new day (not yesterday's, as a day only to look at)
NEXT=$(date -d "$DAY + 1 day" +%Y-%m-%d)
NEXT_SHOWN=$(LC_ALL=C date -d "$NEXT 12:00" "+%a %d %b %Y")
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
see "reconnecting" "the desk notices the server went away again"
TZ=Europe/Paris date -d "$NEXT 08:00" +%s >"$T/clock"
restart_server
see "$NEXT_SHOWN" "after midnight the desk shows the new day" 15
gone "(view only)" "and it is today's, not a day to look at"
gone "Dupont, Marie" "yesterday's patients have gone"

# the receptionist's account is disabled: the screen clears and asks to log in again
must cfg user disable anna
see "Session ended" "the desk says the session ended" 2
see "practice login" "and how to log in again"
CHECKS=$((CHECKS + 1))
if screen | grep -qE "Dupont|Martin|Moreau|Bernard|Petit|M-00"; then
  fail "patient data left on a locked screen"
  show_screen
fi
keys x
is "$(exit_code desk)" "4" "the desk exits with the login exit code"
no_sanitizer_report desk

finish

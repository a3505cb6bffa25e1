#!/usr/bin/env bash
# End-to-end test of the scheduling commands of the practice CLI against a real practiced
# (time zone Europe/Paris): set-up, free slots, bookings and their conflicts, moves,
# cancellations, the waitlist offer seen by a second desk's 'practice watch', the day grid,
# and a week across the change to summer time where times stay on the local clock.
#
#   test_schedule.sh PATH/TO/practiced PATH/TO/practice
set -u

PRACTICED=${1:?usage: test_schedule.sh PRACTICED PRACTICE}
PRACTICE=${2:?usage: test_schedule.sh PRACTICED PRACTICE}
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

# The server's clock: real time while $CLOCK does not exist, else the UTC seconds in it.
CLOCK="$T/clock"
export PRACTICED_TEST_CLOCK="$CLOCK"
start_practice --offer-ttl 600
unset PRACTICED_TEST_CLOCK IN
WATCH_PID=

stop_watch() {
  if [ -n "$WATCH_PID" ]; then
    kill -TERM "$WATCH_PID" 2>/dev/null
    wait "$WATCH_PID"
    WATCH_RC=$?
    WATCH_PID=
  fi
}
trap 'stop_watch; cleanup' EXIT

# wait_for FILE TEXT: until FILE holds TEXT (10 s at most); 1 if it never does.
wait_for() {
  for _ in $(seq 100); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# file_has FILE TEXT DESCRIPTION
file_has() {
  CHECKS=$((CHECKS + 1))
  grep -qF -- "$2" "$1" && return 0
  fail "$3: $(basename "$1") lacks '$2'"
  echo "  $(basename "$1"): $(head -c 3000 "$1")" >&2
  return 1
}

# cell TIME TITLE: the text of the day grid in stdout at row TIME, in the column whose
# title starts with TITLE (empty when blank; "<no cell>" when the row or column is absent).
cell() {
  python3 - "$T/out" "$1" "$2" <<'EOF'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
row, title = sys.argv[2], sys.argv[3]
head = next((i for i, l in enumerate(lines) if l.startswith(" " * 7) and title in l), None)
if head is None:
    print("<no cell>"); sys.exit()
starts = [i for i in range(7, len(lines[head])) if lines[head][i] != " " and
          (i == 7 or lines[head][i - 2:i] == "  ")]
start = lines[head].index(title)
nxt = [s for s in starts if s > start]
line = next((l for l in lines[head + 2:] if l.startswith(row + "  ")), None)
if line is None:
    print("<no cell>"); sys.exit()
print(line[start:nxt[0] if nxt else None].strip())
EOF
}

day_after() { date -d "$1 + $2 days" +%F; }
# UTC seconds of a local time in the practice's zone
epoch() { TZ=Europe/Paris date -d "$1" +%s; }

export PRACTICE_CONFIG="$T/cfg"
expect 0 "connect" connect "127.0.0.1:$PORT" --fingerprint "$FP" || die "cannot connect"
IN=$(printf '%s\n%s\n%s' "$OTP" "manager-pass-1" "manager-pass-1") \
  expect 0 "manager login" login "$MANAGER" || die "cannot log in"
expect 0 "receptionist account" --json user add anna --role receptionist || die "no anna"
ANNA_OTP=$(json 'd["one_time_password"]')
PRACTICE_CONFIG="$T/cfg-anna" expect 0 "connect (anna)" connect "127.0.0.1:$PORT" --fingerprint "$FP"
IN=$(printf '%s\n%s\n%s' "$ANNA_OTP" "anna-pass-123" "anna-pass-123") \
  PRACTICE_CONFIG="$T/cfg-anna" expect 0 "receptionist login" login anna || die "anna cannot log in"

# Days of a week at least a week ahead (Monday D1 .. Friday D5), so nothing is in the past.
D1=$(TZ=Europe/Paris date -d "next monday + 7 days" +%F)
D2=$(day_after "$D1" 1)
D3=$(day_after "$D1" 2)
D4=$(day_after "$D1" 3)
TOMORROW=$(TZ=Europe/Paris date -d tomorrow +%F)

# ---- help and usage -------------------------------------------------------------------

for cmd in "location add" "location edit" "location show" "location list" "room add" \
  "room list" "provider add" "provider edit" "provider list" "visit-type add" \
  "visit-type list" "template set" "template show" "template list" "template remove" \
  "exception add" "exception list" "exception remove" "holiday add" "holiday list" \
  "holiday remove" slots book appts "appt show" "appt move" "appt cancel" "appt no-show" \
  "appt notes" schedule "waitlist add" "waitlist list" "waitlist remove" "waitlist accept" \
  "waitlist decline" "waitlist watch" watch; do
  # shellcheck disable=SC2086
  expect 0 "help of $cmd" $cmd --help && has "usage: practice $cmd" "help of $cmd"
done
expect 0 "top-level help lists scheduling" --help && has "schedule" "top help" &&
  has "template set" "top help names templates"
expect 2 "book without --at" book 100016 checkup --provider dr-okafor &&
  err_has "--at" "names what is missing"
expect 2 "book with --slot and --at" book 100016 checkup --slot 1 --at "today 9:00"
expect 2 "two subjects for a schedule" schedule --provider a --location b
expect 2 "cancel without a reason" appt cancel 1
expect 2 "room list with a foreign option" room list --all

# ---- set-up ---------------------------------------------------------------------------

expect 0 "location add" location add main --name "Main Street" --address-line1 "12 Main St" \
  --city Springfield --hours "mon-fri 08:00-18:00" --hours "sat 09:00-12:00" &&
  has "mon-fri 08:00-18:00" "location shows its hours"
expect 0 "location show --json" --json location show main &&
  is "$(json 'len(d["hours"]), d["hours"][5]["weekday"], d["hours"][5]["start_min"], d["address"]["city"]')" \
    "(6, 6, 540, 'Springfield')" "hours as typed, one per weekday"
expect 7 "location add twice" location add main --name "Again"
expect 8 "location with bad hours" location add north --name North --hours "mon-fry 8-18" &&
  err_has "--hours" "names the option"
expect 8 "location with a bad code" location add North --name North &&
  err_has "(ID)" "names the operand"
expect 0 "location edit" location edit main --phone "555 0100" && has "version 2" "edit saves v2"
expect 7 "location edit from a stale version" location edit main --phone 1 --expect-version 1
expect 0 "room add r1" room add r1 --location main --name "Room 1"
expect 0 "room add r2" room add r2 --location main --name "Room 2"
expect 8 "room at a location that does not exist" room add r9 --location nowhere --name X
expect 0 "room list" --json room list --location main &&
  is "$(json 'sorted(r["id"] for r in d)')" "['r1', 'r2']" "rooms of main"
expect 0 "provider add" provider add dr-okafor --name "Chidi Okafor" --credentials MD \
  --color "#3b82f6" --location main
expect 0 "provider add" provider add dr-lee --name "Ada Lee" --credentials NP --location main
expect 8 "provider with a bad colour" provider edit dr-lee --color nope && err_has "--color" "colour"
expect 0 "provider list" provider list && has "Chidi Okafor" "provider list" && has "active" "status"
expect 0 "visit type checkup" visit-type add checkup --name "Check-up" --minutes 20
expect 0 "visit type followup" visit-type add followup --name "Follow-up" --minutes 15 \
  --providers dr-okafor
expect 0 "visit type minor" visit-type add minor --name "Minor procedure" --minutes 45 --needs-room
expect 0 "visit-type list" --json visit-type list &&
  is "$(json '[(v["id"], v["duration_min"], v["needs_room"], v["providers"]) for v in d]')" \
    "[('checkup', 20, False, []), ('followup', 15, False, ['dr-okafor']), ('minor', 45, True, [])]" \
    "visit types"
PRACTICE_CONFIG="$T/cfg-anna" expect 5 "receptionist may not add a location" \
  location add north --name North

expect 0 "template set" template set dr-okafor --from "$D1" --block "mon-fri 09:00-12:30 main" \
  --block "mon,thu 14:00-17:00 main [checkup, followup] cap=2" &&
  has "mon  14:00-17:00" "template shows the afternoon" && has "(2 at once)" "capacity"
expect 0 "template of dr-lee, every day from today" template set dr-lee \
  --block "daily 08:00-12:00"
expect 0 "template show --on" --json template show dr-okafor --on "$D1" &&
  is "$(json '[(b["weekday"], b["start_min"], b["end_min"], b["location"], b["visit_types"], b["capacity"]) for b in d[0]["blocks"] if b["weekday"] == 1]')" \
    "[(1, 540, 750, 'main', [], 0), (1, 840, 1020, 'main', ['checkup', 'followup'], 2)]" \
    "Monday's blocks"
expect 0 "template replaced on the same start" template set dr-okafor --from "$D1" \
  --block "mon-fri 09:00-12:30 main" --block "mon,thu 14:00-17:00 main [checkup,followup] cap=2" &&
  has "Replaced" "same start replaces"
expect 0 "template list" --json template list --provider dr-okafor &&
  is "$(json 'len(d)')" "1" "one template for dr-okafor"
expect 8 "a block the server refuses" template set dr-lee --from "$D1" \
  --block "mon 09:00-12:00 main [nosuch]" && err_has "--block" "names --block"
expect 8 "a block that is not one" template set dr-lee --block "someday 9-5"
PRACTICE_CONFIG="$T/cfg-anna" expect 5 "receptionist may not set templates" \
  template set dr-lee --block "mon 09:00-10:00"
expect 0 "holiday add" holiday add "$D4" --name "Founders Day"
expect 0 "holiday list" holiday list && has "Founders Day" "holiday listed"
expect 0 "exception add" --json exception add dr-okafor --from "$D2 11:00" --to "$D2 12:00" \
  --kind meeting --reason "Team meeting" || die "no exception"
EXC=$(json 'd["id"]')
is "$(json 'd["kind"], d["start_local"], d["end_local"]')" \
  "('meeting', '$D2 11:00', '$D2 12:00')" "exception in local time"
expect 0 "exception list" exception list --provider dr-okafor --from "$D1" &&
  has "Team meeting" "exception listed"
expect 0 "exception list as JSON" --json exception list --provider dr-okafor --from "$D1" \
  --to "$D2" &&
  is "$(json 'len(d), d[0]["reason"]')" "(1, 'Team meeting')" "one exception in the range"
expect 0 "exception list before it" --json exception list --provider dr-okafor --to "$D1" &&
  is "$(json 'len(d)')" "0" "none up to the day before"
expect 0 "holiday list as JSON" --json holiday list --from "$D4" --to "$D4" &&
  is "$(json 'd[0]["name"]')" "Founders Day" "the holiday as JSON"
expect 0 "exception of a whole day, then removed" --json exception add dr-lee --from "$D3" \
  --to "$D3" --kind time-off
is "$(json 'd["start_local"], d["end_local"]')" "('$D3 00:00', '$(day_after "$D3" 1) 00:00')" \
  "a date alone is the whole day"
expect 0 "exception remove" exception remove "$(json 'd["id"]')"
expect 8 "exception kind unknown" exception add dr-lee --from "$D3" --to "$D3" --kind nap

# ---- patients -------------------------------------------------------------------------

add_patient() {
  expect 0 "patient $1 $2" --json patient add --first "$1" --last "$2" --dob "$3" ||
    die "cannot add a patient"
  json 'd["mrn"]'
}
P1=$(add_patient José Núñez 1984-03-02)
P2=$(add_patient Mary Smith 1950-11-30)
P3=$(add_patient Ben Okoro 1990-01-20)
P4=$(add_patient Zoë Martin 2001-09-09)

# ---- slots and bookings ---------------------------------------------------------------

expect 0 "slots" slots checkup --provider dr-okafor --from "$D1" --count 3 &&
  has "1  Mon $D1 09:00-09:20  Chidi Okafor" "the first slot, numbered" &&
  has "--slot N" "says how to book one"
is "$(mode_of "$T/cfg/slots")" "600" "the remembered listing is private"
expect 0 "slots --json" --json slots checkup --provider dr-okafor --from "$D2" --to "$D2" \
  --between 10:00-12:30 --count 10 &&
  is "$(json '[s["start_local"] for s in d["slots"]]')" \
    "['$D2 10:00', '$D2 10:15', '$D2 10:30', '$D2 12:00']" \
    "no slot during the meeting, each within --between"
expect 0 "slots on the holiday" slots checkup --from "$D4" --to "$D4" &&
  has "No free slots" "a holiday has no slots"

# the first listing again, then book its first slot
expect 0 "slots again" slots checkup --provider dr-okafor --from "$D1" --count 3
PRACTICE_CONFIG="$T/cfg-anna" expect 2 "another desk has no listing" book "$P1" --slot 1 &&
  err_has "practice slots" "says to list slots first"
expect 0 "book --slot" --json book "$P1" --slot 1 || die "cannot book"
A1=$(json 'd["id"]')
is "$(json 'd["provider"], d["start_local"], d["end_local"], d["status"], d["patient_name"]')" \
  "('dr-okafor', '$D1 09:00', '$D1 09:20', 'booked', 'Núñez, José')" "booked from the listing"
expect 8 "--slot past the listing" book "$P1" checkup --slot 9
expect 2 "--slot of another visit type" book "$P1" minor --slot 1

expect 7 "the same time again: fully booked" book "$P2" checkup --provider dr-okafor \
  --at "$D1 09:10" && err_has "conflicts with #$A1 Mon $D1 09:00-09:20 Núñez, José ($P1)" \
  "names the appointment in the way: id, time, patient"
expect 7 "fully booked, as JSON" --json book "$P2" checkup --provider dr-okafor --at "$D1 09:10" &&
  is "$(json_err 'd["error"]["code"], [(c["id"], c["start_local"], c["patient_mrn"]) for c in d["error"]["conflicts"]]')" \
    "('SLOT_FULL', [($A1, '$D1 09:00', '$P1')])" "conflict as JSON"
expect 7 "the patient is busy" book "$P1" checkup --provider dr-lee --at "$D1 09:10" &&
  err_has "#$A1" "names the patient's other appointment"
expect 7 "outside the hours" --json book "$P2" checkup --provider dr-okafor --at "$D1 13:00" &&
  is "$(json_err 'd["error"]["code"]')" "OUTSIDE_AVAILABILITY" "outside availability"
expect 7 "during the meeting" book "$P2" checkup --provider dr-okafor --at "$D2 11:15"
expect 0 "a room for the procedure" --json book "$P3" minor --provider dr-lee --at "$D1 10:00" \
  --room r1 && is "$(json 'd["room"]')" "r1" "the room asked for"
A3=$(json 'd["id"]')
expect 7 "the room is taken" --json book "$P4" minor --provider dr-okafor --at "$D1 10:15" \
  --room r1 &&
  is "$(json_err 'd["error"]["code"], [c["id"] for c in d["error"]["conflicts"]]')" \
    "('ROOM_BUSY', [$A3])" "room conflict names the appointment"
expect 0 "another free room is chosen" --json book "$P4" minor --provider dr-okafor \
  --at "$D1 10:15" && is "$(json 'd["room"]')" "r2" "a free room"
A4=$(json 'd["id"]')
expect 0 "capacity 2: one" book "$P2" followup --provider dr-okafor --at "$D1 14:00"
expect 0 "capacity 2: two" --json book "$P3" checkup --provider dr-okafor --at "$D1 14:00"
A6=$(json 'd["id"]')
expect 7 "capacity 2: three" book "$P4" checkup --provider dr-okafor --at "$D1 14:05"
expect 8 "a time that is not one" book "$P4" checkup --provider dr-lee --at "someday" &&
  err_has "--at" "names --at"
PRACTICE_CONFIG="$T/cfg-anna" expect 0 "receptionist books tomorrow 9:00" --json \
  book "$P4" checkup --provider dr-lee --at "tomorrow 9:00" &&
  is "$(json 'd["start_local"]')" "$TOMORROW 09:00" "tomorrow 9:00 in the practice's zone"
A7=$(json 'd["id"]')

expect 0 "a series" book "$P2" checkup --provider dr-lee --at "$D1 11:00" \
  --repeat "every day until $(day_after "$D1" 4)" --free-ones &&
  has "Series #" "series answer" && has "not booked" "an occurrence that does not fit" &&
  has "4 of 5 occurrences booked" "the others are booked"
expect 7 "a series all or none" book "$P2" checkup --provider dr-lee --at "$D1 11:30" \
  --repeat "daily 5 times" && has "Mon $D1 11:30          free, not booked: all or none" \
  "what would have been booked" && has "is a holiday (Founders Day)" "what was in the way" &&
  err_has "nothing booked" "nothing booked"
expect 8 "a repeat rule that is not one" book "$P2" checkup --provider dr-lee --at "$D1 11:30" \
  --repeat "now and then"

expect 0 "appts" appts "$P1" && has "Mon $D1 09:00-09:20" "the patient's appointment" &&
  has "Check-up" "with its visit type"
expect 0 "appts" --json appts "$P2" &&
  is "$(json 'len(d) >= 5 and all(a["patient_mrn"] == "'"$P2"'" for a in d)')" "True" \
    "a patient's appointments"

# ---- moves and notes ------------------------------------------------------------------

expect 0 "move keeping the day" --json appt move "$A1" --at 11:30 &&
  is "$(json 'd["start_local"], d["version"]')" "('$D1 11:30', 2)" "moved within the day"
expect 7 "move onto a busy time" appt move "$A1" --at "$D1 14:00" &&
  err_has "conflicts with" "names the conflict"
expect 7 "move from a stale version" appt move "$A1" --at 12:00 --expect-version 1 &&
  err_has "not saved" "stale version"
expect 0 "notes" appt notes "$A1" "Bring the X-rays" && has "Bring the X-rays" "notes shown"
expect 0 "appt show" appt show "$A1" && has "moved from" "history" &&
  has "Chidi Okafor, MD (dr-okafor)" "provider named"

# ---- the waitlist: a cancellation offered to the patient waiting, seen by another desk ----

expect 0 "waitlist add" --json waitlist add "$P2" checkup --provider dr-okafor --from "$D1" \
  --to "$(day_after "$D1" 20)" --note "short notice ok" || die "no waitlist entry"
W1=$(json 'd["id"]')
PRACTICE_CONFIG="$T/cfg-anna" "$PRACTICE" watch --provider dr-okafor waitlist \
  >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
CHECKS=$((CHECKS + 1))
wait_for "$T/watch.out" "Watching" || fail "watch did not start: $(cat "$T/watch.err")"
expect 0 "cancel" appt cancel "$A1" --reason "patient unwell" &&
  has "cancelled: patient unwell" "cancelled with its reason"
CHECKS=$((CHECKS + 1))
wait_for "$T/watch.out" "offer #" || fail "no offer reached the watching desk"
file_has "$T/watch.out" "cancelled #$A1 Mon $D1 11:30-11:50 Núñez, José ($P1)" "watch: cancellation"
file_has "$T/watch.out" "held" "watch: the slot is held"
file_has "$T/watch.out" "to Smith, Mary ($P2): Mon $D1 11:30-11:50 with Chidi Okafor" \
  "watch: the offer to the waiting patient"
expect 0 "waitlist list" waitlist list && has "offered" "the entry is offered" &&
  has "ANSWER WITHIN" "time left to answer"
expect 0 "waitlist list --json" --json waitlist list
OFFER=$(json 'd["offers"][0]["id"]')
HELD=$(json 'd["offers"][0]["appointment_id"]')
is "$(json 'd["offers"][0]["start_local"], d["offers"][0]["status"]')" "('$D1 11:30', 'open')" \
  "the offer is for the freed time"
PRACTICE_CONFIG="$T/cfg-anna" expect 0 "accept the offer" --json waitlist accept "$OFFER" &&
  is "$(json 'd["id"], d["status"], d["patient_mrn"], d["start_local"]')" \
    "($HELD, 'booked', '$P2', '$D1 11:30')" "the held appointment is booked"
CHECKS=$((CHECKS + 1))
wait_for "$T/watch.out" "accepted" || fail "watch did not see the answer"
stop_watch
is "$WATCH_RC" "0" "watch stops cleanly on SIGTERM"
CHECKS=$((CHECKS + 1))
if grep -qE 'Sanitizer|runtime error' "$T/watch.err"; then
  fail "sanitizer report from watch: $(cat "$T/watch.err")"
fi
expect 7 "accept twice" waitlist accept "$OFFER"
expect 0 "the entry is scheduled" --json waitlist list --all &&
  is "$(json '[e["status"] for e in d["entries"] if e["id"] == '"$W1"']')" "['scheduled']" \
    "scheduled"

# An offer nobody answers expires: a JSON watch sees it come and go.
expect 0 "waitlist add (2)" waitlist add "$P1" minor --provider dr-okafor
PRACTICE_CONFIG="$T/cfg-anna" "$PRACTICE" --json watch waitlist >"$T/watch.json" \
  2>"$T/watch.err" &
WATCH_PID=$!
CHECKS=$((CHECKS + 1))
wait_for "$T/watch.json" '"watching"' || fail "JSON watch did not start"
expect 0 "cancel (2)" appt cancel "$A4" --reason "rescheduling"
CHECKS=$((CHECKS + 1))
wait_for "$T/watch.json" '"open"' || fail "no open offer seen"
epoch "now + 1 hour" >"$CLOCK"
CHECKS=$((CHECKS + 1))
wait_for "$T/watch.json" '"expired"' || fail "the offer did not expire"
rm -f "$CLOCK"
stop_watch
is "$(python3 -c 'import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print([e["offer_changed"]["offer"]["status"] for e in ev if "offer_changed" in e])' "$T/watch.json" 2>&1)" \
  "['open', 'expired']" "JSON lines: the offer opened, then expired"

# ---- no-show: once the time has come -------------------------------------------------

epoch "$D1 15:00" >"$CLOCK"
expect 0 "no-show" appt no-show "$A6" && has "no-show" "marked"
rm -f "$CLOCK"
expect 8 "no-show before the time" appt no-show "$A7" && err_has "not started" "says why"

# A declined offer: the patient stays on the waitlist.
expect 0 "waitlist add (3)" --json waitlist add "$P3" checkup --provider dr-lee
W3=$(json 'd["id"]')
expect 0 "cancel (3)" appt cancel "$A7" --reason "moving away"
expect 0 "the offer" --json waitlist list
OFFER3=$(json '[o["id"] for o in d["offers"] if o["entry_id"] == '"$W3"'][0]')
PRACTICE_CONFIG="$T/cfg-anna" expect 0 "decline" waitlist decline "$OFFER3" &&
  has "declined" "says so"
expect 0 "still waiting" --json waitlist list &&
  is "$(json '[e["status"] for e in d["entries"] if e["id"] == '"$W3"']')" "['waiting']" \
    "a declined offer leaves the patient waiting"
expect 0 "waitlist remove" waitlist remove "$W3"
expect 0 "removed" --json waitlist list &&
  is "$(json '[e["id"] for e in d["entries"] if e["id"] == '"$W3"']')" "[]" "off the list"
# closed entries come a page at a time: the newest first, then back from the smallest id
expect 0 "waitlist list --all --limit 1" waitlist list --all --limit 1 &&
  has "removed" "the newest closed entry (removed)" &&
  has "Older entries: practice waitlist list --all --before $W3 --limit 1" "says how to page back"
expect 0 "the page before it" --json waitlist list --all --limit 1 --before "$W3" &&
  is "$(json '[e["status"] for e in d["entries"] if e["status"] not in ("waiting", "offered")]')" \
    "['scheduled']" "the scheduled entry, older" &&
  is "$(json 'd.get("closed_before_next", 0)')" "0" "and nothing older"
expect 2 "--limit without --all" waitlist list --limit 5
expect 8 "--limit out of range" waitlist list --all --limit 0 && err_has "--limit" "names the option"

# ---- the day grid ---------------------------------------------------------------------

expect 0 "day grid of the location" schedule --location main --day "$D1" --width 100 &&
  has "Main Street (main) · Mon $D1" "grid title"
is "$(cell 11:30 "Chidi Okafor")" "┌ Smith, Mary" "the offer's patient where the cancelled one was"
is "$(cell 11:45 "Chidi Okafor")" "└ Check-up" "the visit type under the name"
is "$(cell 10:00 "Ada Lee")" "┌ Okoro, Ben" "the procedure of dr-lee"
is "$(cell 10:15 "Ada Lee")" "│ Minor procedure" "its visit type"
is "$(cell 10:30 "Ada Lee")" "└" "its end"
is "$(cell 09:00 "Chidi Okafor")" "·" "free time is bookable"
is "$(cell 13:00 "Chidi Okafor")" "" "no hours at lunch"
is "$(cell 14:00 "Chidi Okafor")" "▪ Smith, Mary · Follow-up +1" "two at once"
is "$(cell 14:15 "Chidi Okafor")" "└ Check-up · NO-SHOW" "the no-show marked"
has "Also: ✗ Mon " "what the grid could not show, under it" &&
  has "✗ Mon 11:30-11:50 Núñez, José, Check-up, Chidi Okafor: cancelled: patient unwell" \
    "the cancelled appointment, with its reason" &&
  has "Mon 14:00-14:20 Okoro, Ben, Check-up, Chidi Okafor: no-show" "and the one hidden"
expect 0 "day grid at 80 columns" schedule --location main --day "$D1"
CHECKS=$((CHECKS + 1))
WIDEST=$(python3 -c 'import sys; print(max(len(l) for l in open(sys.argv[1], encoding="utf-8").read().split("\n")))' "$T/out")
[ "$WIDEST" -le 80 ] || fail "the grid is $WIDEST columns wide"
expect 0 "the meeting in dr-okafor's day" schedule --provider dr-okafor --day "$D2"
is "$(cell 11:00 "Chidi Okafor")" "░ Team meeting" "the exception with its reason"
is "$(cell 11:15 "Chidi Okafor")" "$(printf '░%.0s' $(seq 40))" "the exception fills its rows"
expect 0 "the only location by default" schedule --day "$D1" &&
  has "Main Street (main) · Mon $D1" "defaults to the practice's one location"
expect 0 "the holiday" schedule --location main --day "$D4" && has "HOLIDAY: Founders Day" "holiday"
expect 0 "week grid" schedule --provider dr-okafor --week "$D1" &&
  has "Mon $(date -d "$D1" +%d)" "day columns" && has "Smith" "names in the week"
expect 0 "list" schedule --location main --day "$D1" --list &&
  has "no-show" "the list says what happened" && has "Mon $D1 14:00-14:15" "the follow-up"
expect 0 "schedule --json" --json schedule --location main --day "$D1" &&
  is "$(json 'd["days"][0]["date"], sorted(a["id"] for a in d["days"][0]["appointments"] if a["status"] == "no_show")')" \
    "('$D1', [$A6])" "the raw schedule"
expect 0 "exception removed" exception remove "$EXC"
expect 0 "the meeting is gone" schedule --provider dr-okafor --day "$D2"
is "$(cell 11:00 "Chidi Okafor")" "·" "bookable again"

# ---- summer time: the week of 2026-03-29 in Paris -------------------------------------

epoch "2026-03-20 12:00" >"$CLOCK"
expect 0 "a provider for March" provider add dr-march --name "Lou March" --location main
expect 0 "daily hours" template set dr-march --from 2026-03-01 --block "daily 09:00-12:00 main"
expect 0 "slots across the change" --json slots checkup --provider dr-march --from 2026-03-27 \
  --to 2026-03-31 --between 09:00-09:20 --count 20 &&
  is "$(json '[(s["start_local"], s["start"]) for s in d["slots"]]')" \
    "[('2026-03-27 09:00', '2026-03-27T08:00:00Z'), ('2026-03-28 09:00', '2026-03-28T08:00:00Z'), ('2026-03-29 09:00', '2026-03-29T07:00:00Z'), ('2026-03-30 09:00', '2026-03-30T07:00:00Z'), ('2026-03-31 09:00', '2026-03-31T07:00:00Z')]" \
    "09:00 stays 09:00 when the clocks go forward"
expect 0 "a weekly series across the change" --json book "$P3" checkup --provider dr-march \
  --at "2026-03-26 09:00" --repeat "weekly 2 times" &&
  is "$(json '[o["appointment"]["start_local"] for o in d["occurrences"]]')" \
    "['2026-03-26 09:00', '2026-04-02 09:00']" "the series stays on the local clock"
expect 0 "the day of the change" schedule --provider dr-march --day 2026-03-29
is "$(cell 09:00 "Lou March")" "·" "09:00 row on the day of the change"
is "$(cell 11:45 "Lou March")" "·" "last row"
is "$(cell 12:00 "Lou March")" "<no cell>" "no row after the hours"
expect 0 "the week of the change" schedule --provider dr-march --week 2026-03-29 &&
  has "Mon 23" "the week starts on Monday" && has "Sun 29" "and holds the Sunday"
expect 0 "its booking in the week" schedule --provider dr-march --week 2026-03-26 &&
  has "Okoro" "the booking in the week grid"
rm -f "$CLOCK"

finish

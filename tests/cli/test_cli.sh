#!/usr/bin/env bash
# End-to-end test of the practice CLI: a real practiced on 127.0.0.1 with a fresh
# practice, driven only through the 'practice' command, as staff and scripts use it.
#
#   test_cli.sh PATH/TO/practiced PATH/TO/practice
#
# Every check asserts an exit code and what the output says; a failed check prints what
# was run and what came back, and the script exits non-zero if any check failed.
set -u

PRACTICED=${1:?usage: test_cli.sh PRACTICED PRACTICE}
PRACTICE=${2:?usage: test_cli.sh PRACTICED PRACTICE}
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

# ---- a fresh practice and its server --------------------------------------------------

start_practice

export PRACTICE_CONFIG="$T/cfg"
unset IN

# ---- help and usage -------------------------------------------------------------------

expect 0 "top-level help" --help && has "Exit codes" "top-level help" &&
  has "5  permission denied" "top-level help lists exit codes"
expect 0 "help as a word" help
for cmd in connect login logout passwd whoami "patient add" "patient show" "patient edit" \
  "patient search" "patient list" "user add" "user list" "user disable" "user enable" \
  "user passwd" "device add" audit stats; do
  # shellcheck disable=SC2086
  expect 0 "help of $cmd" $cmd --help && has "usage: practice $cmd" "help of $cmd"
done
expect 0 "-h of patient add" patient add -h && has "--insurance-payer" "patient add help" &&
  has "Examples:" "patient add help"
expect 0 "group help" patient --help && has "search" "patient group help"
expect 2 "no command"
expect 2 "unknown command" frobnicate && err_has "unknown command" "unknown command"
expect 2 "unknown option" patient add --first A --last B --dob 2000-01-01 --bogus &&
  err_has "usage: practice patient add" "usage after an unknown option"
expect 2 "missing MRN" patient show
expect 2 "option without its value" patient add --first
expect 2 "missing required options" patient add --first A && err_has "--last" "names what is missing"
expect 2 "group without command" user
expect 2 "connect without --ca or --fingerprint" connect 127.0.0.1
expect 2 "search without criteria" patient search
expect 2 "json usage error" --json patient show &&
  is "$(json_err 'd["error"]["code"]')" "USAGE" "usage error as JSON"

# ---- connect --------------------------------------------------------------------------

expect 3 "a command before connect" patient list && err_has "practice connect" "says to connect"
BAD_FP=$( [ "${FP:0:1}" = "0" ] && echo "1${FP:1}" || echo "0${FP:1}")
expect 3 "connect with a wrong fingerprint" connect "127.0.0.1:$PORT" --fingerprint "$BAD_FP"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/cfg/config" ] || fail "a failed connect left a configuration"
expect 8 "connect with a malformed fingerprint" connect "127.0.0.1:$PORT" --fingerprint abc
expect 3 "connect to a closed port" connect 127.0.0.1:1 --fingerprint "$FP"
expect 0 "connect by fingerprint" connect "127.0.0.1:$PORT" --fingerprint "$FP" ||
  die "cannot connect"
has '"T"' "connect names the practice" && has "Europe/Paris" "connect names the zone"
expect 0 "connect --json" --json connect "127.0.0.1:$PORT" --fingerprint "${FP:0:2}:${FP:2}" &&
  is "$(json 'd["timezone"]')" "Europe/Paris" "connect --json timezone"
is "$(mode_of "$T/cfg")" "700" "configuration directory mode"
is "$(mode_of "$T/cfg/config")" "600" "config file mode"
is "$(mode_of "$T/cfg/ca.crt")" "600" "CA file mode"

# ---- login ----------------------------------------------------------------------------

expect 4 "a command before login" patient list && err_has "practice login" "says to log in"
IN=$(printf '%s\n%s\n%s' "$OTP" "manager-pass-1" "manager-pass-2") \
  expect 8 "new passwords that differ" login "$MANAGER"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/cfg/session" ] || fail "a failed password change left a session"
IN=$(printf '%s\n%s\n%s' "$OTP" "short" "short") \
  expect 8 "a new password against the policy" login "$MANAGER" && err_has "new_password" "names the field"
IN=$(printf '%s\n%s\n%s' "$OTP" "manager-pass-1" "manager-pass-1") \
  expect 0 "login with the one-time password, replacing it" login "$MANAGER" ||
  die "cannot log in as the manager"
has "new password is set" "login says the password changed"
is "$(mode_of "$T/cfg/session")" "600" "session file mode"
expect 0 "whoami" whoami && has "$MANAGER" "whoami" && has "manager" "whoami role"
IN="manager-pass-1" expect 0 "login again with the new password" login "$MANAGER" --device "back office"
expect 0 "whoami --json" --json whoami && is "$(json 'd["device"]')" "back office" "device name"
IN="nope-nope-nope" expect 4 "wrong password" login "$MANAGER" && err_has "wrong" "wrong password"
IN=$(printf '%s\n%s\n%s' "manager-pass-1" "manager-pass-2" "manager-pass-2") \
  expect 0 "passwd" passwd
IN="manager-pass-2" expect 0 "login with the changed password" login "$MANAGER" --device "back office"

# ---- patients -------------------------------------------------------------------------

expect 0 "patient add" patient add --first "José" --last "Núñez" --dob 1984-03-02 --sex male \
  --phone "+33 6 12 34 56 78:mobile" --phone "01 23 45 67 89:home" --language es \
  --email jose@example.org --city Paris --insurance-payer MGEN --insurance-member 12345 \
  --emergency-name "Ana Núñez" --emergency-relationship wife --no-sms --notes "Allergic to penicillin" ||
  die "cannot add a patient"
MRN=$(sed -n 's/^Created patient \([0-9]*\)\.$/\1/p' "$T/out")
[ -n "$MRN" ] || die "patient add printed no MRN: $OUT"
has "Núñez" "patient add shows the record" && has "+33 6 12 34 56 78 (mobile)" "phone with kind"

expect 0 "patient add --json" --json patient add --first Mary --last Smith --dob 1950-11-30 \
  --preferred Molly --sex female --phone "555-0101"
MRN2=$(json 'd["mrn"]')
is "$(json 'd["first_name"], d["sex"], d["phones"][0]["number"], d["version"]')" \
  "('Mary', 'female', '555-0101', 1)" "patient add --json record"

expect 8 "invalid patient" patient add --first A --last B --dob 2999-01-01 --email nope &&
  err_has "date_of_birth" "names the date of birth" && err_has "email" "names every field" &&
  err_has "--dob" "names the option"
expect 8 "invalid patient, JSON error" --json patient add --first A --last B --dob 1990-02-30 \
  --phone 12 && is "$(json_err 'd["error"]["code"]')" "INVALID_ARGUMENT" "JSON error code" &&
  is "$(json_err 'sorted(f["field"] for f in d["error"]["fields"])')" \
    "['date_of_birth', 'phones[0].number']" "JSON error lists every field"
expect 8 "unknown sex word" patient add --first A --last B --dob 1990-01-01 --sex robot
expect 8 "unknown phone kind" patient add --first A --last B --dob 1990-01-01 --phone 5550100:fax

expect 0 "patient show" patient show "$MRN" && has "José Núñez" "show name" &&
  has "1984-03-02" "show date of birth" && has "male" "show sex" &&
  has "01 23 45 67 89 (home)" "show second phone" && has "MGEN, member 12345" "show insurance" &&
  has "no text messages" "show privacy"
expect 0 "patient show --json" patient show "$MRN" --json &&
  is "$(json 'd["mrn"], d["version"], d["insurance"]["payer"], d["privacy"]["no_sms"]')" \
    "('$MRN', 1, 'MGEN', True)" "show --json values"
MISSING=$(python3 -c 'd="99999"; s=sum((int(c)*2-9 if int(c)*2>9 else int(c)*2) if i%2==0 else int(c) for i,c in enumerate(reversed(d))); print(d+str((10-s%10)%10))')
expect 6 "show a patient who does not exist" patient show "$MISSING"
expect 8 "show with a malformed MRN" patient show 12345x

expect 0 "patient edit" patient edit "$MRN" --city Lyon --phone "555 0100:home" --email "" &&
  has "version 2" "edit makes version 2"
expect 0 "show after edit" --json patient show "$MRN" &&
  is "$(json 'd["version"], d["address"]["city"], len(d["phones"]), d["phones"][0]["kind"], d["email"]')" \
    "(2, 'Lyon', 1, 'home', '')" "edit applied"
expect 7 "edit from a stale version" patient edit "$MRN" --city Nice --expect-version 1 &&
  err_has "not saved" "conflict says nothing was saved" && err_has "version 1" "conflict names the version"
expect 7 "stale edit, JSON error" --json patient edit "$MRN" --city Nice --expect-version 1 &&
  is "$(json_err 'd["error"]["code"]')" "CONFLICT" "conflict as JSON"
expect 0 "show after the refused edit" --json patient show "$MRN" &&
  is "$(json 'd["version"], d["address"]["city"]')" "(2, 'Lyon')" "a stale edit changed nothing"
expect 0 "edit at the current version" patient edit "$MRN" --add-phone "06 99 88 77 66:mobile" \
  --expect-version 2 --confidential
expect 2 "edit with nothing to change" patient edit "$MRN"
expect 8 "remove a phone the patient lacks" patient edit "$MRN" --remove-phone 123456789

for who in "Anne-Marie Smith 1972-06-15" "John Smith 1990-01-20" "Zoë Smith 2001-09-09"; do
  read -r first last dob <<<"$who"
  expect 0 "add $first $last" patient add --first "$first" --last "$last" --dob "$dob"
done

expect 0 "search by accent-free prefix" patient search nun && has "$MRN" "search finds Núñez"
expect 0 "search in capitals with accents" patient search "NÚÑ" && has "$MRN" "search folds case"
expect 0 "search by name words" --json patient search smi ann &&
  is "$(json '[p["first_name"] for p in d]')" "['Anne-Marie']" "search by two words"
expect 0 "search by date of birth" --json patient search --dob 1950-11-30 &&
  is "$(json '[p["mrn"] for p in d]')" "['$MRN2']" "search by dob"
expect 0 "search by phone" --json patient search --phone 0101 &&
  is "$(json 'len(d)')" "1" "search by phone digits"
expect 0 "search finds nobody" patient search nobodyatall && has "No patients found" "empty search"
expect 0 "empty search, JSON" --json patient search nobodyatall && is "$(json 'd')" "[]" "empty array"

expect 0 "list" patient list && has "Smith, Mary (Molly)" "list shows last, first" &&
  has "5 patients" "list counts"
expect 0 "list --limit" patient list --limit 2 && has "More follow" "list says more follow"
expect 0 "list --limit --json" --json patient list --limit 2 && is "$(json 'len(d)')" "2" "list --limit"
expect 0 "list --all --json" --json patient list --all &&
  is "$(json 'len(d)')" "5" "list --all" &&
  is "$(json '[p["last_name"] for p in d]')" \
    "['Núñez', 'Smith', 'Smith', 'Smith', 'Smith']" "list order"
expect 2 "list --all --limit" patient list --all --limit 2

# ---- accounts -------------------------------------------------------------------------

expect 0 "user add" --json user add anna --role receptionist --name "Anna Schmidt" ||
  die "cannot add a user"
ANNA_OTP=$(json 'd["one_time_password"]')
is "$(json 'd["account"]["role"], d["account"]["display_name"]')" \
  "('receptionist', 'Anna Schmidt')" "user add --json"
expect 0 "user add, human" user add bob --role clinician &&
  has "One-time password:" "user add prints the password"
BOB_OTP=$(sed -n 's/^One-time password: //p' "$T/out")
expect 7 "user add twice" user add anna --role receptionist
expect 8 "user add with an unknown role" user add carl --role wizard
expect 8 "user add with a bad name" user add "Carl Smith" --role biller
expect 2 "user add without --role" user add carl
expect 0 "user list" user list && has "anna" "user list" && has "Anna Schmidt" "user list name"
expect 8 "device add for a location that does not exist" device add lobby-tv --location main
expect 0 "location add" location add main --name "Main room"
expect 0 "device add" device add lobby-tv --location main && has "Device secret:" "device secret"
expect 0 "user list --json" --json user list &&
  is "$(json 'sorted(a["username"] for a in d)')" "['admin', 'anna', 'bob', 'lobby-tv']" "accounts"

# Anna, a receptionist, on her own desk.
export PRACTICE_CONFIG="$T/cfg-anna"
expect 0 "connect with --ca" connect "127.0.0.1:$PORT" --ca "$T/p/ca.crt"
IN=$(printf '%s\n%s\n%s' "$ANNA_OTP" "anna-pass-123" "anna-pass-123") \
  expect 0 "receptionist login" login anna
expect 5 "receptionist denied user add" user add eve --role manager &&
  err_has "may not" "says it is not allowed"
expect 5 "receptionist denied the audit log" audit
expect 0 "receptionist searches" patient search smith
expect 0 "receptionist cannot see a confidential record in search" --json patient search nun &&
  is "$(json 'len(d)')" "0" "confidential record hidden"

# Bob, a clinician, is disabled while logged in.
export PRACTICE_CONFIG="$T/cfg-bob"
expect 0 "connect for bob" connect "127.0.0.1:$PORT" --fingerprint "$FP"
IN=$(printf '%s\n%s\n%s' "$BOB_OTP" "bob-pass-1234" "bob-pass-1234") \
  expect 0 "clinician login" login bob
expect 0 "clinician reads a patient" patient show "$MRN2"
PRACTICE_CONFIG="$T/cfg" expect 0 "user disable" user disable bob && has "disabled" "disable says so"
expect 4 "a disabled user's session ends" patient show "$MRN2"
IN="bob-pass-1234" expect 4 "a disabled user cannot log in" login bob &&
  err_has "disabled" "says the account is disabled"
PRACTICE_CONFIG="$T/cfg" expect 0 "user list hides disabled" user list && lacks "bob" "disabled hidden"
PRACTICE_CONFIG="$T/cfg" expect 0 "user list --all" --json user list --all &&
  is "$(json '[a["disabled"] for a in d if a["username"] == "bob"]')" "[True]" "bob disabled"
PRACTICE_CONFIG="$T/cfg" expect 0 "user enable" user enable bob
IN="bob-pass-1234" expect 0 "an enabled user logs in again" login bob

# A manager's reset ends Anna's session and gives her a new one-time password.
PRACTICE_CONFIG="$T/cfg" expect 0 "user passwd" --json user passwd anna
ANNA_OTP2=$(json 'd["one_time_password"]')
CHECKS=$((CHECKS + 1))
if [ -z "$ANNA_OTP2" ] || [ "$ANNA_OTP2" = "$ANNA_OTP" ]; then
  fail "user passwd gave no new one-time password"
fi
export PRACTICE_CONFIG="$T/cfg-anna"
expect 4 "a reset ends the session" patient search smith &&
  err_has "session expired; run 'practice login'" "says to log in"
IN=$(printf '%s\n%s\n%s' "$ANNA_OTP2" "anna-pass-456" "anna-pass-456") \
  expect 0 "login after a reset" login anna
export PRACTICE_CONFIG="$T/cfg"

# ---- audit ----------------------------------------------------------------------------

expect 0 "audit of a patient" audit --patient "$MRN" && has "patient.create" "audit create" &&
  has "patient.read" "audit read" && has "patient.update" "audit update" &&
  has "failed: CONFLICT" "audit shows the refused edit" && has "Hash chain verified" "chain" &&
  has "Europe/Paris" "audit names the zone"
expect 0 "audit --json" --json audit --patient "$MRN" &&
  is "$(json 'd["chain_ok"]')" "True" "chain_ok" &&
  is "$(json 'sorted(set(e["action"] for e in d["entries"] if e["record"] == "'"$MRN"'"))')" \
    "['patient.create', 'patient.read', 'patient.update']" "audit actions on the patient" &&
  is "$(json 'sorted(set(e["username"] + "@" + e["device"].split(" (")[0] for e in d["entries"] if e["action"] == "patient.update"))')" \
    "['admin@back office']" "audit says who changed it, from where"
expect 0 "audit of an MRN typed with a dash" --json audit --patient "${MRN:0:-1}-${MRN: -1}" &&
  is "$(json 'any(e["action"] == "patient.update" for e in d["entries"])')" "True" \
    "an MRN with a dash finds its entries"
expect 8 "audit of something that is not an MRN" audit --patient "12a"
expect 0 "audit by user and time" --json audit --user bob --since today &&
  is "$(json 'all(e["username"] == "bob" for e in d["entries"]) and len(d["entries"]) > 0')" \
    "True" "audit --user"
expect 0 "audit until the past" --json audit --until 2000-01-01 &&
  is "$(json 'len(d["entries"])')" "0" "audit --until"
expect 8 "audit with a bad time" audit --since "next tuesday" && err_has "--since" "names the option"
expect 0 "stats" stats && has "create_patient" "stats lists requests"

# ---- sessions end ---------------------------------------------------------------------

# A token the server does not know: flip its first digit.
cp "$T/cfg/session" "$T/session.saved"
TOKEN=$(sed -n 's/^token //p' "$T/session.saved")
BAD_TOKEN=$([ "${TOKEN:0:1}" = 0 ] && echo 1 || echo 0)${TOKEN:1}
sed "s/^token .*/token $BAD_TOKEN/" "$T/session.saved" >"$T/session.bad"
cp "$T/session.bad" "$T/cfg/session"
expect 4 "an unknown session" patient list &&
  err_has "session expired; run 'practice login'" "expired session message"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/cfg/session" ] || fail "an expired session was kept"
cp "$T/session.bad" "$T/cfg/session"
expect 4 "an unknown session, JSON" --json patient list &&
  is "$(json_err 'd["error"]["code"]')" "SESSION_EXPIRED" "expired session as JSON"
cp "$T/session.saved" "$T/cfg/session"
chmod 600 "$T/cfg/session"
expect 0 "logout" logout && has "Logged out" "logout"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/cfg/session" ] || fail "logout left the session file"
expect 4 "after logout" patient list
expect 0 "logout twice" logout && has "Not logged in" "second logout"

for f in "$T"/cfg*/*; do
  is "$(mode_of "$f")" "600" "mode of $(basename "$(dirname "$f")")/$(basename "$f")"
done
for d in "$T"/cfg*; do
  is "$(mode_of "$d")" "700" "mode of $(basename "$d")"
done

finish

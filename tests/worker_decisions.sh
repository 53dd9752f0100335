#!/bin/sh
# The network thread makes no decision of its own (issue 16 #1): every rule
# about what to send, when, what a status means, what is counted where, and
# what stop does lives in the pure state machine (nr_machine.c), where
# tests/nr_machine_test.c covers it. This check fails when nr_worker.c
#   - reads or writes a field of the machine (w->machine.x, m->x through an
#     nr_machine_t pointer or copy): it may only pass &w->machine to
#     nr_machine_* calls and read nr_machine_view_t, a copy;
#   - names a machine state or a status class (NR_STATE_*, NR_STATUS_*), or
#     classifies a status itself (nr_machine_status_class, _is_success, ...);
#   - compares an HTTP status with a number.
# Comments and string literals are ignored. The check then plants one of each
# violation in a copy and makes sure it is caught, so it cannot pass by
# matching nothing.
# Usage: worker_decisions.sh SOURCE_DIR
set -eu
src=${1:?usage: worker_decisions.sh SOURCE_DIR}/plugin/node_registration/nr_worker.c
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Prints the offending lines of $1; status 0 when there are none.
check() {
    perl -0777 -pe 's{/\*.*?\*/}{ my $c = $&; $c =~ s/[^\n]//g; $c }gse;
                    s{//[^\n]*}{}g; s{"(?:\\.|[^"\\\n])*"}{""}g' "$1" >"$tmp/code.c"
    bad=0
    report() { # pattern, why
        if grep -nE "$1" "$tmp/code.c" >"$tmp/hits"; then
            sed "s|^|$(basename "$2"): |" "$tmp/hits" | sed "s|^|  |"
            echo "  ^ $3"
            bad=1
        fi
    }
    report '\bmachine\s*(\.|->)' "$1" "a field of the machine: ask nr_machine_view() or add an nr_machine_* function"
    report '\bnr_machine_t\b' "$1" "an nr_machine_t other than the worker's one member: use &w->machine"
    report '\bNR_(STATE|STATUS)_[A-Z_]+' "$1" "a state or status class named in the worker: the decision belongs in nr_machine"
    report '\bnr_machine_(status_class|classify|is_success|is_auth_failure|deregister_succeeded|node_state)\b' \
        "$1" "the worker classifies a status itself: use the decision or verdict nr_machine returns"
    report '\bstatus\b\s*(==|!=|<=|>=|<|>)\s*[0-9]|[^0-9.][1-5][0-9][0-9]\s*(==|!=|<=|>=|<|>)\s*[a-z_>.-]*status' \
        "$1" "an HTTP status compared with a number in the worker"
    return $bad
}

# The one member declaration is the exception to the nr_machine_t rule.
filter_member() {
    perl -pe 's{^(\s*)nr_machine_t(\s+machine;)}{$1nr_machine_member$2}' "$1" >"$2"
}

filter_member "$src" "$tmp/worker.c"
if ! check "$tmp/worker.c"; then
    echo "FAIL: nr_worker.c makes a decision of its own (see above)"
    exit 1
fi
grep -q 'nr_machine_on_outcome(&w->machine' "$tmp/worker.c" || {
    echo "FAIL: nr_worker.c no longer calls nr_machine_on_outcome: is this the right file?"
    exit 1
}

# Each kind of violation, planted after the first nr_machine_on_outcome call,
# must be caught.
n=0
for plant in 'w->machine.next_due_ns = 0;' \
             'nr_machine_t *m = &w->machine; (void)m;' \
             'if (w->stats.state == NR_STATE_REGISTERED) return 0;' \
             'int auth = nr_machine_is_auth_failure(resp.status);' \
             'if (resp.status == 401) return 0;' \
             'if (401 == resp.status) return 0;'; do
    n=$((n + 1))
    PLANT=$plant perl -pe 'if (!$done && /nr_machine_on_outcome\(&w->machine/) { $_ .= "    $ENV{PLANT}\n"; $done = 1 }' \
        "$tmp/worker.c" >"$tmp/planted$n.c"
    if check "$tmp/planted$n.c" >/dev/null; then
        echo "FAIL: the check misses a planted decision: $plant"
        exit 1
    fi
done
echo "ok: nr_worker.c only carries the machine's decisions out ($n planted violations caught)"

#!/bin/sh
# Jobs run in the write batch's own transaction and count on the store's helpers noting
# every write: a job that fails after writing is then undone by running the batch again
# with a nested transaction per job (server/store.h, struct wjob). A direct LMDB write
# anywhere else in the server would go unnoticed and could outlive its failed request.
# migrate.c runs in store_open's own transaction, before the writer starts.
# usage: lint_store_writes.sh SERVER_DIR
dir=${1:?usage: lint_store_writes.sh SERVER_DIR}
found=$(grep -nE '\bmdb_(put|del|cursor_put|cursor_del|drop)[[:space:]]*\(' "$dir"/*.c "$dir"/*.h |
    grep -v "^$dir/store\.c:" | grep -v "^$dir/migrate\.c:")
if [ -n "$found" ]; then
    echo "LMDB written to directly, not through the store_* helpers (server/store.h):"
    echo "$found"
    exit 1
fi
n=$(ls "$dir"/*.c | wc -l)
[ "$n" -gt 10 ] || { echo "no server sources in $dir"; exit 1; }
echo "ok: no direct LMDB writes in $n server sources outside store.c"

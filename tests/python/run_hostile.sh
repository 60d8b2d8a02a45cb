#!/usr/bin/env bash
# Hostile and broken Python functions through a whole platform (one node,
# three slots): each fails only its own task, with a reason a user can act
# on, while a normal Python task and a built-in task started among them
# finish. Then many Python tasks at once (more than the slots): none sees
# another's module state, globals or files.
. "$(dirname "$0")/lib.sh"
python_platform 1 3 "heartbeat_ms = 250" "task_timeout_secs = 8" "cpu_time_secs = 4" \
  "memory_mb = 256"
hostile=$payloads/hostile
declare -A tasks
run() { # NAME PAYLOAD [ARGS_JSON]
  local id
  id=$(register_python "py-$1" "$2" --overwritable-arg id)
  tasks[$1]=$(start_task "$id" "${3:-{\"id\": \"$1\"\}}")
}
for name in cpu_loop slow_import memory_bomb fork_import_os fork_reached_os thread_spawn \
            socket_import open_passwd io_open_passwd stat_passwd proc_write ctypes_call \
            ctypes_via_numpy fcntl_setown uid recursion big_result exception syntax_error \
            no_entrypoint; do
  run "$name" "$hostile/$name.py"
done
echo_id=$(register_python py-echo "$payloads/echo.py" --overwritable-arg message)
normal=$(start_task "$echo_id" '{"message": "normal python"}')
builtin_id=$("$STEEP" function register --user admin --name builtin-echo --executor-type builtin \
  --overwritable-arg message)
builtin=$(start_task "$builtin_id" '{"message": "normal builtin"}' builtin)
log_id=$(register_python py-logs "$hostile/logs.py" --arg save_log=true)
logs=$(start_task "$log_id" '{}')

violation="function violated the sandbox policy \(syscall"
not_allowed() { echo "ImportError: import of '$1' is not allowed in the sandbox"; }
expect() { expect_result "$1" "${tasks[$1]}" 1 "$2"; }
expect cpu_loop "function exceeded its CPU time limit|function timed out after 8 s"
expect slow_import "function timed out after 8 s"
expect memory_bomb "function exceeded its memory limit"
expect fork_import_os "$(not_allowed os)"
expect fork_reached_os "AttributeError: module 'os' has no attribute 'fork'"
expect thread_spawn "$violation (clone|clone3|rt_sigaction)\)"
expect socket_import "$(not_allowed socket)"
expect open_passwd "PermissionError: open: the sandbox has no file system"
expect io_open_passwd "PermissionError: open: the sandbox has no file system"
# newfstatat answers EACCES whatever the path (runner_confine.c: seccomp
# cannot read the path; fstat goes through the descriptor-only call).
expect stat_passwd "PermissionError: \\[Errno 13\\] Permission denied: '/etc/passwd'"
expect proc_write "PermissionError: open: the sandbox has no file system"
expect ctypes_call "$(not_allowed ctypes)"
expect ctypes_via_numpy "numpy.ctypeslib has no ctypes"
expect fcntl_setown "$(not_allowed fcntl)"
expect recursion "RecursionError: maximum recursion depth exceeded"
expect big_result "function result too large: 104857600 bytes, the limit is 1048576 bytes"
expect syntax_error "SyntaxError: invalid syntax \(payload line 2, column 2[0-9]\)"
expect no_entrypoint "the payload defines no function entrypoint\(argv\)"
# The sandbox user (the platform's default sandbox_uid/sandbox_gid), which
# its own user namespace maps to itself: the same ids inside as outside.
expect_result uid "${tasks[uid]}" 0 "^uid 65534 euid 65534 gid 65534 egid 65534$"
# An exception: type and message first, then the script's traceback lines.
out=$("$STEEP" task result "${tasks[exception]}" --user admin --wait 60 2>&1) && rc=0 || rc=$?
want=("ValueError: bad input: 2 arguments" 'File "<payload>", line 6, in entrypoint'
      "return check(argv)" 'File "<payload>", line 2, in check'
      'raise ValueError("bad input: %d arguments" % len(argv))')
for w in "${want[@]}"; do
  [ "$rc" = 1 ] && grep -qF -- "$w" <<<"$out" && ok "exception: $w" || fail "exception: $w" "$out"
done
grep -q "steep prelude" <<<"$out" && fail "exception: no runner frames" "$out" ||
  ok "exception: no runner frames"

expect_result "a normal Python task among them finishes" "$normal" 0 "^normal python$"
expect_result "a built-in task among them finishes" "$builtin" 0 "^normal builtin$"
out=$("$STEEP" task result "$logs" --user admin --wait 60 2>&1) && rc=0 || rc=$?
for w in "log: hello from print 2" "log: [WARNING payload] hello from logging" \
         "log: [ERROR root] caught" "log: Traceback (most recent call last):" \
         'log:   File "<payload>", line 10, in entrypoint' "log:     1 / 0" \
         "log: ZeroDivisionError: division by zero" \
         "log: <payload>:13: RuntimeWarning: divide by zero encountered in scalar divide" \
         "log:   numpy.float64(1.0) / 0"; do
  [ "$rc" = 0 ] && grep -qxF -- "$w" <<<"$out" && ok "save_log: $w" || fail "save_log: $w" "$out"
done
[ "$(grep -cv '^log: ' <<<"$out")" = 0 ] && ok "None is an empty result" ||
  fail "None is an empty result" "$out"

# Many at once on one node with three slots.
isolation_id=$(register_python py-isolation "$hostile/isolation.py" --overwritable-arg id)
many=()
for i in $(seq 1 9); do many+=("$(start_task "$isolation_id" "{\"id\": \"t$i\"}")"); done
results=()
for i in $(seq 1 9); do
  results+=("$("$STEEP" task result "${many[$((i - 1))]}" --user admin --wait 60 2>&1)")
done
clean=$(printf '%s\n' "${results[@]}" | grep -cE "^t[1-9] fds=[0-9]+ clean$" || true)
fds=$(printf '%s\n' "${results[@]}" | sed -n 's/.* fds=\([0-9]*\) .*/\1/p' | sort -u)
[ "$clean" = 9 ] && ok "9 tasks at once: none saw another's state" ||
  fail "9 tasks at once: none saw another's state" "$(printf '%s\n' "${results[@]}")"
[ "$(wc -l <<<"$fds")" = 1 ] && [ "$fds" -le 4 ] && ok "every task holds only its own $fds descriptors" ||
  fail "descriptors differ between tasks" "$fds"
# The node is still whole.
task=$(start_task "$echo_id" '{"message": "after all that"}')
expect_result "the node serves on" "$task" 0 "^after all that$"
# A zygote that dies is replaced on the next Python task.
node=$(cat "$STEEP_DIR"/run/execution-*.pid | head -n1)
zygote() { ps --ppid "$node" -o pid=,args= | awk '/--zygote/ {print $1}' | head -n1; }
old=$(zygote)
if [ -n "$old" ]; then
  kill -9 "$old"
  task=$(start_task "$echo_id" '{"message": "new zygote"}')
  expect_result "a Python task after the zygote was killed" "$task" 0 "^new zygote$"
  new=$(zygote)
  [ -n "$new" ] && [ "$new" != "$old" ] && ok "the node started another zygote" ||
    fail "the node started another zygote" "old $old new $new"
else
  fail "the node has a zygote" "$(ps --ppid "$node" -o pid=,args=)"
fi
finish

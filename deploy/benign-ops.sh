#!/usr/bin/env bash
# Routine administration that trips indicators without being an attack: the
# hard negatives of the evolution dataset (docs/learning.md). Deliberately not
# here: behaviour the default model must keep alerting on even when it is an
# admin's (debugger attaches, cron edits): a fleet that wants those quiet
# teaches its own collector with feedback. Run by
# deploy/record-dataset.sh under an agent recording with --record-label benign.
# Everything it creates lives under a temp dir or is removed again.
set -euo pipefail
ROUNDS=${1:-10}
work=$(mktemp -d /tmp/vigil-ops-XXXXXX)
unit=/etc/systemd/system/vigil-record-ops.service
trap 'rm -rf "$work" "$unit"' EXIT

# A developer's build, run from /tmp (CI jobs do this all day).
cat >"$work/hello.c" <<'C'
#include <stdio.h>
int main(void) { puts("ok"); return 0; }
C
gcc -O1 -o "$work/hello" "$work/hello.c"

# A JIT-style W+X mapping (interpreters and JITs do this; W+X by a program new
# to the host is a separate, stronger indicator).
cat >"$work/jit.py" <<'PY'
import mmap
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.close()
PY

for i in $(seq 1 "$ROUNDS"); do
  for _ in 1 2 3 4 5; do "$work/hello" >/dev/null; done
  python3 "$work/jit.py"
  # Dotfiles and a service unit, the way configuration management writes them.
  mkdir -p "$work/home$i"
  printf 'export PATH=$PATH:/opt/tools/bin\n' >>"$work/home$i/.bashrc"
  printf '[Unit]\nDescription=vigil dataset %s\n[Service]\nExecStart=/bin/true\n' "$i" >"$unit"
  rm -f "$unit"
  # A set-uid helper used the normal way, and an admin signalling a user's process.
  runuser -u nobody -- /usr/bin/passwd -S nobody >/dev/null 2>&1 || true
  runuser -u nobody -- sleep 5 &
  sleep 0.1
  pkill -u nobody -x sleep || true
  wait || true
  # A health check probing a few closed local ports.
  for p in 1 2 3; do (exec 3<>"/dev/tcp/127.0.0.1/$((41990 + p))") 2>/dev/null || true; done
done
echo "benign-ops.sh: $ROUNDS rounds done"

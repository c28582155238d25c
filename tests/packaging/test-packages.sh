#!/usr/bin/env bash
# Installs the .deb packages from deploy/package.sh on this machine, checks what
# they put where, starts the collector and the agent with the ExecStart lines of
# their own systemd units (as the unit's User=, within the unit's capability
# bounding set — systemd need not be PID 1 here), checks that the agent reaches
# the collector and raises an alert, then purges the packages and checks that
# nothing is left behind. Root only; exits non-zero on the first failure.
#
#   sudo tests/packaging/test-packages.sh [PKG_DIR]     # default build-pkg
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PKG_DIR=${1:-build-pkg}
PKGS=(vigil-agent vigil-collector vigilctl)

fail() { echo "test-packages: FAIL: $*" >&2; exit 1; }
# eventually PATTERN CMD...: true once CMD's output matches PATTERN (within 20 s).
eventually() {
  local pattern=$1 out
  shift
  for _ in $(seq 1 100); do
    out=$("$@" 2>/dev/null || true)
    grep -q "${pattern}" <<<"${out}" && return 0
    sleep 0.2
  done
  return 1
}
step() { echo "test-packages: $*"; }
[[ ${EUID} -eq 0 ]] || fail "must run as root"
shopt -s nullglob
debs=("${PKG_DIR}"/vigil-agent_*.deb "${PKG_DIR}"/vigil-collector_*.deb "${PKG_DIR}"/vigilctl_*.deb)
((${#debs[@]} == 3)) || fail "expected three packages in ${PKG_DIR}, found: ${debs[*]:-none}"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  dpkg --purge "${PKGS[@]}" >/dev/null 2>&1 || true
  rm -rf "${work}" /etc/vigil/tls /etc/vigil/tokens /etc/vigil/enroll.token
  rmdir /etc/vigil 2>/dev/null || true
}
trap cleanup EXIT

# A clean start: nothing from an earlier run.
dpkg --purge "${PKGS[@]}" >/dev/null 2>&1 || true
rm -rf /etc/vigil/tls /etc/vigil/tokens /etc/vigil/enroll.token

step "package metadata"
# Each output is captured before it is matched: with pipefail, `cmd | grep -q`
# fails whenever grep exits at its first match and cmd then dies of SIGPIPE.
for d in "${debs[@]}"; do
  info=$(dpkg-deb --field "$d" Depends)
  [[ ${info} == *lib* ]] || fail "$d: no shared-library Depends (Depends: ${info:-none})"
done
[[ $(dpkg-deb --field "${PKG_DIR}"/vigil-collector_*.deb Depends) == *adduser* ]] \
  || fail "vigil-collector does not depend on adduser"
ctrl=$(dpkg-deb --ctrl-tarfile "${PKG_DIR}"/vigil-agent_*.deb | tar -tf -)
[[ ${ctrl} == *conffiles* ]] || fail "vigil-agent has no conffiles"

step "install with apt (dependencies resolved from Debian)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  "$(realpath "${debs[0]}")" "$(realpath "${debs[1]}")" "$(realpath "${debs[2]}")" >"${work}/apt.log" 2>&1 \
  || { cat "${work}/apt.log"; fail "apt-get install"; }

for f in /usr/sbin/vigil-agent /usr/sbin/vigil-collector /usr/bin/vigilctl /usr/bin/vigil-loadgen \
  /usr/bin/vigil-evolve /etc/vigil/agent.yaml /etc/vigil/collector.yaml \
  /lib/systemd/system/vigil-agent.service /lib/systemd/system/vigil-collector.service \
  /usr/share/doc/vigil-agent/operations.md /usr/share/doc/vigilctl/api.md \
  /usr/share/vigil-collector/dataset.vds; do
  [[ -e $f ]] || fail "$f not installed"
done
[[ $(/usr/sbin/vigil-agent --version) == "vigil-agent "* ]] || fail "vigil-agent --version"
[[ $(/usr/sbin/vigil-collector --version) == "vigil-collector "* ]] || fail "vigil-collector --version"
getent passwd vigil >/dev/null || fail "no vigil user"
[[ $(stat -c '%U %a' /var/lib/vigil-collector) == "vigil 750" ]] || fail "collector data dir owner/mode"
[[ $(stat -c '%a' /var/lib/vigil) == 700 ]] || fail "agent state dir mode"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /lib/systemd/system/vigil-agent.service \
    /lib/systemd/system/vigil-collector.service 2>"${work}/verify.log" \
    || { cat "${work}/verify.log"; fail "systemd-analyze verify"; }
fi

# The units' own command lines and settings.
unit_value() { sed -n "s/^$2=//p" "/lib/systemd/system/$1.service" | head -1; }
collector_cmd=$(unit_value vigil-collector ExecStart)
collector_user=$(unit_value vigil-collector User)
agent_cmd=$(unit_value vigil-agent ExecStart)
agent_caps=$(unit_value vigil-agent CapabilityBoundingSet)
[[ $collector_cmd == "/usr/sbin/vigil-collector --config /etc/vigil/collector.yaml" ]] \
  || fail "collector ExecStart: ${collector_cmd}"
[[ $agent_cmd == "/usr/sbin/vigil-agent --config /etc/vigil/agent.yaml" ]] \
  || fail "agent ExecStart: ${agent_cmd}"

step "TLS material, an issuing CA and tokens, as docs/security.md tells an operator to make them"
deploy/make-certs.sh /etc/vigil/tls --issuing-ca >/dev/null
chgrp vigil /etc/vigil/tls /etc/vigil/tls/collector.key /etc/vigil/tls/issuing-ca.key
chmod g+rx /etc/vigil/tls
chmod 0640 /etc/vigil/tls/collector.key /etc/vigil/tls/issuing-ca.key
(umask 027 && printf 'viewer pkg-viewer-token-0123456789\noperator pkg-operator-token-0123456789\n' \
  >/etc/vigil/tokens)
chgrp vigil /etc/vigil/tokens
printf 'viewer pkg-viewer-token-0123456789\n' >"${work}/viewer.token"
printf 'operator pkg-operator-token-0123456789\n' >"${work}/operator.token"
ctl() { vigilctl --collector 127.0.0.1:7701 --ca /etc/vigil/tls/ca.crt --token-file "${work}/viewer.token" "$@"; }

step "start the collector as ${collector_user}: ${collector_cmd}"
# shellcheck disable=SC2086
setpriv --reuid "${collector_user}" --regid "${collector_user}" --init-groups --no-new-privs \
  --bounding-set=-all ${collector_cmd} >"${work}/collector.out" 2>"${work}/collector.err" &
pids+=($!)
for _ in $(seq 1 50); do
  grep -q "listening agents=" "${work}/collector.out" && break
  sleep 0.2
done
grep -q "listening agents=0.0.0.0:7700 api=127.0.0.1:7701" "${work}/collector.out" \
  || { cat "${work}/collector.err"; fail "collector did not start from its unit's command"; }
[[ $(stat -c '%U' /var/lib/vigil-collector/model-signing.key) == vigil ]] \
  || fail "signing key not owned by vigil"
[[ $(stat -c '%a' /var/lib/vigil-collector/model-signing.key) == 600 ]] || fail "signing key mode"

step "an enroll token for one agent (vigilctl enroll create), as docs/operations.md says"
vigilctl --collector 127.0.0.1:7701 --ca /etc/vigil/tls/ca.crt --token-file "${work}/operator.token" \
  enroll create --uses 1 --ttl 1h --out /etc/vigil/enroll.token >"${work}/enroll.out" 2>&1 \
  || { cat "${work}/enroll.out"; fail "vigilctl enroll create"; }
[[ $(stat -c '%a' /etc/vigil/enroll.token) == 600 ]] || fail "enroll token file mode"

step "point the agent at it with the token (no hand-made certificate) and start it: ${agent_cmd}"
cat >>/etc/vigil/agent.yaml <<'YAML'
collector: 127.0.0.1:7700
host_id: pkg-test-host
tls_ca: /etc/vigil/tls/ca.crt
enroll_token_file: /etc/vigil/enroll.token
YAML
bounding=$(echo "${agent_caps}" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
# shellcheck disable=SC2086
setpriv --bounding-set="-all,${bounding}" --inh-caps="-all" ${agent_cmd} \
  >"${work}/agent.out" 2>"${work}/agent.err" &
pids+=($!)
eventually '"connected": *true' ctl --json agents \
  || { cat "${work}/agent.err"; fail "agent (unit's capabilities only) did not connect"; }
[[ $(stat -c '%a' /var/lib/vigil/tls/agent.key) == 600 ]] || fail "enrolled agent key mode"
openssl x509 -in /var/lib/vigil/tls/agent.crt -noout -subject | grep -q "CN *= *pkg-test-host" \
  || fail "the enrolled certificate does not name the agent"
# A real detection through the installed agent: ptrace attach to a child.
ptrace_once() {
  python3 - <<'PY'
import ctypes, os, signal, time
libc = ctypes.CDLL(None, use_errno=True)
child = os.fork()
if child == 0:
    time.sleep(5); os._exit(0)
time.sleep(0.2)
libc.ptrace(16, child, None, None)  # PTRACE_ATTACH
time.sleep(0.2)
os.kill(child, signal.SIGKILL); os.waitpid(child, 0)
PY
}
ptrace_once
eventually "ptrace" ctl --json alerts \
  || { tail -5 "${work}/agent.err"; fail "no ptrace alert from the packaged agent"; }
grep -q "ptrace" /var/log/vigil/alerts.jsonl || fail "agent alerts_out (/var/log/vigil) not written"

step "logrotate: the packaged rule parses; a rotated output is reopened on SIGHUP"
[[ -f /etc/logrotate.d/vigil-agent ]] || fail "no /etc/logrotate.d/vigil-agent"
logrotate -d /etc/logrotate.d/vigil-agent >"${work}/logrotate.out" 2>&1 \
  || { cat "${work}/logrotate.out"; fail "logrotate refuses the packaged rule"; }
mv /var/log/vigil/alerts.jsonl /var/log/vigil/alerts.jsonl.1
kill -HUP "${pids[1]}"  # what the rule's postrotate does (through systemctl)
rotated=0
for _ in $(seq 1 50); do
  ptrace_once
  if grep -q "ptrace" /var/log/vigil/alerts.jsonl 2>/dev/null; then rotated=1; break; fi
done
((rotated)) || { tail -5 "${work}/agent.err"; fail "after SIGHUP the agent did not write a new alerts.jsonl"; }
[[ $(stat -c '%a' /var/log/vigil/alerts.jsonl) == 640 ]] || fail "reopened alerts.jsonl mode"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a service did not stop cleanly on SIGTERM"; done
pids=()

printf 'viewer wrong-token-0123456789\n' >"${work}/wrong.token"
vigilctl --collector 127.0.0.1:7701 --ca /etc/vigil/tls/ca.crt --token-file "${work}/wrong.token" \
  report >/dev/null 2>&1 && fail "the API answered a wrong token"

step "remove keeps configuration, purge leaves nothing"
dpkg --remove "${PKGS[@]}" >/dev/null
[[ -e /etc/vigil/collector.yaml ]] || fail "remove deleted a conffile"
[[ ! -e /usr/sbin/vigil-agent && ! -e /lib/systemd/system/vigil-agent.service ]] \
  || fail "remove left binaries or units"
rm -rf /etc/vigil/tls /etc/vigil/tokens /etc/vigil/enroll.token  # the operator's own files
dpkg --purge "${PKGS[@]}" >/dev/null 2>&1
for f in /etc/vigil /var/lib/vigil /var/lib/vigil-collector /var/log/vigil /usr/sbin/vigil-agent \
  /usr/sbin/vigil-collector /usr/bin/vigilctl /lib/systemd/system/vigil-agent.service \
  /lib/systemd/system/vigil-collector.service /usr/share/doc/vigil-agent \
  /etc/logrotate.d/vigil-agent; do
  [[ ! -e $f ]] || fail "$f left after purge"
done
! getent passwd vigil >/dev/null || fail "vigil user left after purge"
! getent group vigil >/dev/null || fail "vigil group left after purge"
[[ -z $(bpftool link show 2>/dev/null | grep -i vigil || true) ]] || fail "BPF links left behind"
step "PASS"

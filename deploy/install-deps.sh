#!/usr/bin/env bash
# Installs every build and test dependency of vigil from Debian's archive.
# Idempotent and non-interactive: packages already present are left alone.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang llvm
  # coverage-guided fuzzing (tests/fuzz): clang 19 for C++23 and its libFuzzer runtime
  clang-19 libclang-rt-19-dev
  # kernel side
  bpftool libbpf-dev libelf-dev zlib1g-dev
  # RPC, storage, libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libboost-dev libspdlog-dev libfmt-dev libcli11-dev
  libyaml-cpp-dev nlohmann-json3-dev libsodium-dev libeigen3-dev
  # Sigma rule engine: linear-time regexes for untrusted rule files
  libre2-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # test tooling: namespaces, traffic generators
  iproute2 procps util-linux sudo
  # TLS material (deploy/make-certs.sh), the web view's HTTPS, enrollment's issuing CA
  openssl libssl-dev
  # scenario suite (benign workloads): a web server, a client, version control;
  # gdb for the quickstart's printed ptrace example
  python3 curl git make gcc gdb
  # the Python example client (docs/examples/python) and its test; python3-grpc-tools
  # proves the protos compile with the Python ecosystem's stock toolchain too
  python3-grpcio python3-protobuf python3-grpc-tools
  # the web view's end-to-end test: headless Chromium renders the page
  chromium
  # scenario suite (attacks): a real netcat for the reverse shell; socat and
  # script (util-linux) for the relayed-shell variants (tests/integration/variants_test.cpp)
  ncat socat
  # ATT&CK suite (tests/scenarios/attack_suite_test.cpp): at and crontab
  # (scheduled jobs), insmod/lsmod, iptables (run in a throwaway netns), tcpdump
  at cron kmod iptables tcpdump
  # the packaging test checks the agent's logrotate rule
  logrotate
  # benchmarks (deploy/bench.sh): bpftrace is the comparison tracer
  bpftrace
  # the real-runtime container tests (tests/integration/container_test.cpp): rootful
  # podman with runc (crun refuses a hybrid cgroup layout) and an image made locally
  # from busybox-static by tests/container/build-images.sh (nothing is pulled)
  podman runc busybox-static
)

if [[ ${EUID} -ne 0 ]]; then
  echo "install-deps.sh: must run as root (try: sudo $0)" >&2
  exit 1
fi

# The web view bundles its charting library from npm at build time. Node.js may
# already come from elsewhere (with its own npm); only then is Debian's skipped.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Podman sets a container's RLIMIT_NOFILE and RLIMIT_NPROC above the limits root
# has where root cannot raise them (CI VMs, containers in containers), and runc
# then refuses to start anything ("error setting rlimit type 7"). An explicit
# empty `default_ulimits` under [containers] makes containers inherit podman's
# own limits. Only that one line is added (the file is made if absent): every
# other setting, and an operator's own non-empty default_ulimits (left alone,
# with a warning), stays as it was; running this again changes nothing.
containers_conf=/etc/containers/containers.conf
ulimits_line='default_ulimits = []  # vigil: inherit limits (deploy/install-deps.sh)'
mkdir -p "$(dirname "${containers_conf}")"
[[ -e ${containers_conf} ]] || install -m 644 /dev/null "${containers_conf}"
# in the [containers] table: "empty" (already []), "other" (a value of its own),
# "missing" (no key, or no table at all)
state=$(awk '
  /^[[:space:]]*\[/ { table = $0; sub(/#.*/, "", table); gsub(/[[:space:]]/, "", table); next }
  table == "[containers]" && /^[[:space:]]*default_ulimits[[:space:]]*=/ {
    found = /=[[:space:]]*\[[[:space:]]*\][[:space:]]*(#.*)?$/ ? "empty" : "other"
  }
  END { print (found ? found : "missing") }' "${containers_conf}")
case ${state} in
  empty) ;;
  other)
    echo "install-deps.sh: ${containers_conf} sets default_ulimits; left as is" \
      "(the container tests need it empty where root cannot raise RLIMIT_NOFILE)" >&2
    ;;
  missing)
    tmp=$(mktemp "${containers_conf}.XXXXXX")
    awk -v line="${ulimits_line}" '
      { print }
      !done && /^[[:space:]]*\[containers\][[:space:]]*(#.*)?$/ { print line; done = 1 }
      END { if (!done) { if (NR > 0) print ""; print "[containers]"; print line } }' \
      "${containers_conf}" >"${tmp}"
    chmod --reference="${containers_conf}" "${tmp}"
    mv "${tmp}" "${containers_conf}"
    echo "install-deps.sh: ${containers_conf}: default_ulimits = [] under [containers]"
    ;;
esac

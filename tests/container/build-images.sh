#!/usr/bin/env bash
# Builds the container images the real-runtime tests run (tests/integration/
# container_test.cpp) from Debian's busybox-static: nothing is pulled from a
# registry. Idempotent: an image is rebuilt only when its inputs (the busybox
# binary, this script) changed, which a label on the image records.
#
#   localhost/vigil-test-busybox:latest   a general image (command `sh`) for
#                                         running any busybox applet
#   localhost/vigil-test-sleeper:latest   a workload that never runs a shell:
#                                         its entrypoint is `busybox sleep`
#   localhost/vigil-test-shellapp:latest  a workload that runs a shell every
#                                         second (a shell script as service)
#
# All three are the same one-layer tree (/bin/busybox and a symlink per applet, a
# minimal /etc); only their configuration differs, so their image ids differ.
#
#   sudo tests/container/build-images.sh
set -euo pipefail

if [[ ${EUID} -ne 0 ]]; then
  echo "build-images.sh: must run as root (the tests run rootful podman)" >&2
  exit 1
fi
busybox=/bin/busybox
# The image has no libraries: busybox must be the static build.
linkage=$(LC_ALL=C ldd "${busybox}" 2>&1 || true)
if ! "${busybox}" --list >/dev/null 2>&1 || [[ ${linkage} != *"not a dynamic"* ]]; then
  echo "build-images.sh: ${busybox} is not busybox-static (apt-get install busybox-static)" >&2
  exit 1
fi

# One build at a time: two test runs may call this together.
mkdir -p /run/lock
exec 9>/run/lock/vigil-test-images.lock
flock -w 120 9

inputs=$(cat "${busybox}" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)

current() {  # the inputs label of image $1, or nothing when it is absent
  podman image inspect --format '{{index .Labels "vigil.test.inputs"}}' "$1" 2>/dev/null || true
}

needed=()
images=(localhost/vigil-test-busybox:latest localhost/vigil-test-sleeper:latest
  localhost/vigil-test-shellapp:latest)
for image in "${images[@]}"; do
  [[ $(current "${image}") == "${inputs}" ]] || needed+=("${image}")
done
if ((${#needed[@]} == 0)); then
  echo "build-images.sh: images up to date (${inputs})"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
root=${work}/rootfs
mkdir -p "${root}"/{bin,etc,proc,sys,dev,tmp,root,var/tmp,host}
chmod 1777 "${root}/tmp" "${root}/var/tmp"
cp "${busybox}" "${root}/bin/busybox"
for applet in $("${busybox}" --list); do
  [[ ${applet} == busybox ]] || ln -s busybox "${root}/bin/${applet}"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
  >"${root}/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"${root}/etc/group"
tar -C "${root}" --numeric-owner --owner=0 --group=0 -cf "${work}/rootfs.tar" .

common=(--change "LABEL=vigil.test.inputs=${inputs}" --change "ENV=PATH=/bin"
  --change "WORKDIR=/")
for image in "${needed[@]}"; do
  case ${image} in
    *vigil-test-busybox*) config=(--change 'CMD=["/bin/sh"]') ;;
    *vigil-test-sleeper*) config=(--change 'ENTRYPOINT=["/bin/busybox","sleep"]'
      --change 'CMD=["3600"]') ;;
    # podman import takes `INSTRUCTION VALUE` when the value has spaces. The
    # inner shell by path: busybox's sh runs `sh` (no slash) by re-executing
    # /proc/self/exe, which is no exec of /bin/sh.
    *vigil-test-shellapp*) config=(--change
      'CMD ["/bin/sh","-c","trap \"exit 0\" TERM; while :; do /bin/sh -c \"/bin/sleep 1\"; done"]') ;;
  esac
  old=$(podman image inspect --format '{{.Id}}' "${image}" 2>/dev/null || true)
  podman import --quiet "${common[@]}" "${config[@]}" "${work}/rootfs.tar" "${image}" >/dev/null
  # The replaced build is left untagged: remove it unless a container still uses it.
  [[ -z ${old} ]] || podman image rm "${old}" >/dev/null 2>&1 || true
  echo "build-images.sh: built ${image} (${inputs})"
done

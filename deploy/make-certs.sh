#!/usr/bin/env bash
# Makes the TLS material for mTLS between agents and the collector, with the
# OpenSSL command line: a CA (kept in OUT_DIR; reused on later runs), a server
# certificate for the collector and one client certificate per agent. An
# agent's identity is its certificate's CN: the collector accepts a stream only
# when the agent id and host id it announces equal that CN (docs/security.md).
#
#   deploy/make-certs.sh OUT_DIR [--name DNS_OR_IP]... [--agent ID]... [--days N] [--issuing-ca]
#
#   deploy/make-certs.sh /etc/vigil/tls --name collector.example.internal --agent web-1 --agent db-1
#   → ca.crt ca.key collector.crt collector.key agent-web-1.crt agent-web-1.key ...
#
# --issuing-ca adds issuing-ca.crt/.key: an intermediate CA, signed by ca.key,
# that the collector holds (enroll_ca_cert/enroll_ca_key) to sign enrolled
# agents' certificates, so ca.key can stay offline; issuing-ca.crt also lists
# ca.crt after it, and ca.crt keeps verifying every agent (tls_ca).
#
# The collector's certificate always names localhost and 127.0.0.1; --name adds
# the names agents dial. Re-running with --agent X re-issues X's certificate
# (rotation); the CA stays. Keys are created 0600. Keep ca.key off the hosts.
set -euo pipefail

usage() {
  sed -n '2,21p' "$0" >&2
  exit 2
}
(($# >= 1)) || usage
out=$1
shift
names=()
agents=()
days=825
issuing=0
while (($#)); do
  case $1 in
    --name) names+=("$2"); shift 2 ;;
    --agent) agents+=("$2"); shift 2 ;;
    --days) days=$2; shift 2 ;;
    --issuing-ca) issuing=1; shift ;;
    *) usage ;;
  esac
done
command -v openssl >/dev/null || { echo "make-certs.sh: openssl not found (apt install openssl)" >&2; exit 1; }

umask 077
mkdir -p "${out}"
cd "${out}"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [[ ! -f ca.key ]]; then
  key ca.key
  openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=vigil CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  echo "make-certs.sh: new CA ${out}/ca.crt"
fi

# sign NAME CN EXTENSIONS: NAME.key + NAME.crt signed by the CA.
sign() {
  local name=$1 cn=$2 ext=$3
  key "${name}.key"
  openssl req -new -key "${name}.key" -out "${name}.csr" -subj "/CN=${cn}"
  openssl x509 -req -in "${name}.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "${days}" \
    -out "${name}.crt" -extfile <(printf '%s\n' "${ext}") 2>/dev/null
  rm -f "${name}.csr"
  chmod 0644 "${name}.crt"
  echo "make-certs.sh: ${out}/${name}.crt (CN=${cn})"
}

san="DNS:localhost,IP:127.0.0.1"
for n in "${names[@]}"; do
  if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san+=",IP:${n}"; else san+=",DNS:${n}"; fi
done
sign collector vigil-collector "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=${san}"

for id in "${agents[@]}"; do
  if [[ ! $id =~ ^[A-Za-z0-9._:-]{1,128}$ ]]; then
    echo "make-certs.sh: agent id '${id}' must be 1..128 characters of [A-Za-z0-9._:-]" >&2
    exit 2
  fi
  sign "agent-${id}" "${id}" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
done
chmod 0644 ca.crt

if ((issuing)) && [[ -f issuing-ca.key ]]; then
  echo "make-certs.sh: keeping ${out}/issuing-ca.crt (remove issuing-ca.key to make a new one)"
elif ((issuing)); then
  # pathlen:0: it signs agents' certificates, never another CA.
  key issuing-ca.key
  openssl req -new -key issuing-ca.key -out issuing-ca.csr -subj "/CN=vigil issuing CA"
  openssl x509 -req -in issuing-ca.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1825 \
    -out issuing-ca.pem -extfile <(printf '%s\n' "basicConstraints=critical,CA:TRUE,pathlen:0" \
    "keyUsage=critical,keyCertSign,cRLSign" "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid:always") 2>/dev/null
  cat issuing-ca.pem ca.crt >issuing-ca.crt
  rm -f issuing-ca.csr issuing-ca.pem
  chmod 0644 issuing-ca.crt
  chmod 0600 issuing-ca.key
  echo "make-certs.sh: ${out}/issuing-ca.crt (the collector's enroll_ca_cert; key issuing-ca.key)"
fi

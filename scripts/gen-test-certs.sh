#!/bin/sh
# Generate TLS material for the tests into DIR (EC P-256, valid 10 years):
#   ca.pem ca.key                      test CA (trusted)
#   server.pem server.key              SAN IP:127.0.0.1, IP:::1, DNS:localhost
#   client.pem client.key              client cert from the test CA
#   client-enc.key client-enc.pass     client.key encrypted (AES-256), its password
#   other-ca.pem other-ca.key          a CA nobody trusts
#   untrusted-client.pem/.key          client cert signed by other-ca
#   revoked-client.pem/.key            client cert from the test CA, revoked by
#   crl.pem                            the test CA's CRL
#   node.pem node.key                  one certificate for both ends of a data
#                                      channel (serverAuth + clientAuth, SAN as server)
# Idempotent: a complete DIR is left as it is. Quiet unless something fails.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
DIR=$1
FILES="ca.pem ca.key server.pem server.key client.pem client.key client-enc.key client-enc.pass
other-ca.pem other-ca.key untrusted-client.pem untrusted-client.key revoked-client.pem revoked-client.key crl.pem
node.pem node.key"

complete=1
for f in $FILES; do
    [ -s "$DIR/$f" ] || complete=0
done
[ $complete -eq 1 ] && exit 0

mkdir -p "$DIR"
# Build in a scratch dir and move into place, so a half-written set is never seen.
WORK=$(mktemp -d "$DIR/.gen.XXXXXX")
LOG=$WORK/log
trap 'rm -rf "$WORK"' EXIT
fail() {
    echo "gen-test-certs: $1 failed:" >&2
    cat "$LOG" >&2
    exit 1
}
run() {
    what=$1
    shift
    "$@" >>"$LOG" 2>&1 || fail "$what"
}

cd "$WORK"
newkey() { run "key $1" openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

cat >ext.cnf <<'EXT'
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[node_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
EXT

mkca() { # name cn
    newkey "$1.key"
    run "$1 cert" openssl req -new -x509 -key "$1.key" -subj "/CN=$2" -days 3650 -sha256 \
        -config ext.cnf -extensions ca_ext -out "$1.pem"
}
mkcert() { # name cn ca ext serial
    newkey "$1.key"
    run "$1 csr" openssl req -new -key "$1.key" -subj "/CN=$2" -config ext.cnf -out "$1.csr"
    run "$1 cert" openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "$5" -days 3650 \
        -sha256 -extfile ext.cnf -extensions "$4" -out "$1.pem"
}

mkca ca "memfabric test CA"
mkca other-ca "untrusted test CA"
mkcert server "localhost" ca server_ext 4097
mkcert client "memfabric test client" ca client_ext 4098
mkcert revoked-client "revoked test client" ca client_ext 4099
mkcert untrusted-client "untrusted test client" other-ca client_ext 4100
mkcert node "memfabric test node" ca node_ext 4101

# Encrypted copy of the client key; the password file has a trailing newline
# as `echo` writes it, which the library must ignore.
echo "test-key-password-$$" >client-enc.pass
run "encrypted key" openssl pkey -in client.key -aes256 -passout file:client-enc.pass -out client-enc.key

# CRL revoking revoked-client.pem (openssl ca needs a small database).
: >index.txt
echo 1000 >crlnumber
cat >ca.cnf <<CNF
[ca]
default_ca = test_ca
[test_ca]
database = $WORK/index.txt
crlnumber = $WORK/crlnumber
certificate = $WORK/ca.pem
private_key = $WORK/ca.key
default_md = sha256
default_crl_days = 3650
CNF
run "revoke" openssl ca -batch -config ca.cnf -revoke revoked-client.pem
run "crl" openssl ca -batch -config ca.cnf -gencrl -out crl.pem

chmod 600 ./*.key client-enc.pass
for f in $FILES; do
    mv -f "$f" "$DIR/$f"
done

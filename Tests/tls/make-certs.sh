#!/bin/sh
# make-certs.sh DIR: a throwaway PKI for the TLS tests and benchmarks, made with openssl at
# run time (no key is ever committed). In DIR:
#   ca.pem ca.key            the test CA
#   server.pem server.key    rdlmd's certificate (CN=rdlmd, SAN 127.0.0.1, ::1, localhost), by ca
#   admin.pem admin.key      a client certificate, CN=rdlm-admin, by ca
#   client.pem client.key    a client certificate, CN=rdlm-client, by ca
#   ca2.pem ca2.key          a second CA
#   server2.pem server2.key  rdlmd's next certificate (CN=rdlmd-renewed, same SANs), by ca2
#   rogue.pem rogue.key      CN=rdlm-admin again, but by ca2: must not pass for an admin
#   other.key                a key that belongs to no certificate here
set -eu
dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # NAME CN
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 2 -sha256 \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -out "$1.pem" 2>/dev/null
}

leaf() { # NAME CN CA EXTENSIONS
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$4" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 2 -sha256 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

server_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost'
client_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'

ca ca "rdlm test CA"
ca ca2 "rdlm test CA 2"
leaf server rdlmd ca "$server_ext"
leaf server2 rdlmd-renewed ca2 "$server_ext"
leaf admin rdlm-admin ca "$client_ext"
leaf client rdlm-client ca "$client_ext"
leaf rogue rdlm-admin ca2 "$client_ext"
key other.key
chmod 644 ./*.pem

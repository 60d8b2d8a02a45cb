# The examples' own data: made here, encrypted with `steep file encrypt`,
# so a fresh clone needs nothing beside itself. Sourced by lib.sh.
#
# Each data owner's plaintext, key and the answer computed independently of
# the platform (awk, comm, openssl) stay in EXAMPLE_DIR (0700, never served);
# only ciphertext goes under FILES_DIR/example-inputs, which the file server
# serves. The C examples read the same files (examples/c/common.c).
#
#   example_inputs      make everything once (idempotent: a rerun reuses it)
#   example_key NAME    the hex key of NAME.enc
#   example_cmac NAME   its cmac, as `steep file encrypt` printed it

EXAMPLE_DIR=${EXAMPLE_DIR:-${STEEP_HOME:-$HOME/.steep}/example-inputs}
EXAMPLE_SERVED=$FILES_DIR/example-inputs
export EXAMPLE_DIR

example_key() { cat "$EXAMPLE_DIR/$1.key"; }
example_cmac() { cat "$EXAMPLE_DIR/$1.cmac"; }

# encrypt_example NAME: EXAMPLE_DIR/NAME.txt → FILES_DIR/example-inputs/NAME.enc
# under a fresh random key (teaclave-file-128 binds the file name "NAME.enc").
encrypt_example() {
  local name=$1
  openssl rand -hex 16 >"$EXAMPLE_DIR/$name.key"
  "$STEEP" file encrypt --quiet --scheme teaclave-file-128 --key "$(example_key "$name")" \
    "$EXAMPLE_DIR/$name.txt" "$EXAMPLE_SERVED/$name.enc" | sed 's/^cmac //' >"$EXAMPLE_DIR/$name.cmac"
  [ -s "$EXAMPLE_DIR/$name.cmac" ] || die "cannot encrypt $name"
}

# customers SEED COUNT: COUNT lines "customer-NNN : amount", a seeded draw
# from 400 customer numbers, so the three banks share some of them.
customers() {
  awk -v seed="$1" -v count="$2" 'BEGIN {
    srand(seed)
    while (n < count) {
      id = sprintf("customer-%03d", int(rand() * 400))
      if (!(id in seen)) { seen[id] = 1; n++; printf "%s : %d\n", id, 1 + int(rand() * 100000) }
    }
  }'
}

# hashes SEED COUNT: COUNT sorted SHA-256 hex lines of seeded e-mail addresses
# drawn from 300, so two parties' sets overlap.
hashes() {
  awk -v seed="$1" -v count="$2" 'BEGIN {
    srand(seed)
    while (n < count) { i = int(rand() * 300); if (!(i in seen)) { seen[i] = 1; n++; print "user" i "@example.org" } }
  }' | while read -r mail; do printf '%s' "$mail" | sha256sum | cut -d' ' -f1; done | sort
}

make_bank_inputs() {
  local seeds=(11 12 13) i
  for i in 0 1 2; do
    customers "${seeds[$i]}" 160 >"$EXAMPLE_DIR/bank$i.txt"
    encrypt_example "bank$i"
  done
  # Customers of all three banks, with the sum of what they hold.
  awk -F' : ' 'FNR == 1 { f++ } { n[$1]++; s[$1] += $2 }
    END { for (c in n) if (n[c] == f) printf "%s, %d\n", c, s[c] }' \
    "$EXAMPLE_DIR"/bank{0,1,2}.txt | sort >"$EXAMPLE_DIR/bank.expected"
  [ -s "$EXAMPLE_DIR/bank.expected" ] || die "the generated banks share no customer"
}

make_psi_inputs() {
  hashes 21 40 >"$EXAMPLE_DIR/psi0.txt"
  hashes 22 30 >"$EXAMPLE_DIR/psi1.txt"
  local i other
  for i in 0 1; do
    other=$EXAMPLE_DIR/psi$((1 - i)).txt
    # One '1' or '0' per line: is this line also in the other set?
    awk 'NR == FNR { in_other[$0] = 1; next } { printf "%s", ($0 in in_other) ? 1 : 0 }' \
      "$other" "$EXAMPLE_DIR/psi$i.txt" >"$EXAMPLE_DIR/psi$i.expected"
    encrypt_example "psi$i"
  done
  comm -12 "$EXAMPLE_DIR/psi0.txt" "$EXAMPLE_DIR/psi1.txt" | wc -l | tr -d ' ' \
    >"$EXAMPLE_DIR/psi.common"
}

make_password_inputs() {
  awk 'BEGIN { srand(31); for (i = 0; i < 500; i++) printf "leaked-%08x\n", int(rand() * 4294967295) }' \
    >"$EXAMPLE_DIR/exposed_passwords.txt"
  encrypt_example exposed_passwords
  # The user's password (one of the leaked ones) travels inline, as an
  # aes-gcm-128 data: URL under its own key and iv.
  sed -n 123p "$EXAMPLE_DIR/exposed_passwords.txt" | tr -d '\n' >"$EXAMPLE_DIR/password.txt"
  openssl rand -hex 16 >"$EXAMPLE_DIR/password.key"
  openssl rand -hex 12 >"$EXAMPLE_DIR/password.iv"
  "$STEEP" file encrypt --quiet --scheme aes-gcm-128 --key "$(example_key password)" \
    --iv "$(cat "$EXAMPLE_DIR/password.iv")" "$EXAMPLE_DIR/password.txt" "$EXAMPLE_DIR/password.enc" \
    | sed 's/^cmac //' >"$EXAMPLE_DIR/password.cmac"
  printf 'data:text/plain;base64,%s' "$(base64 -w0 "$EXAMPLE_DIR/password.enc")" >"$EXAMPLE_DIR/password.url"
}

make_rsa_inputs() {
  openssl genrsa -out "$EXAMPLE_DIR/rsakey.pem" 2048 2>/dev/null
  # builtin-rsa-sign takes a DER PKCS#1 RSAPrivateKey.
  openssl rsa -in "$EXAMPLE_DIR/rsakey.pem" -traditional -outform DER -out "$EXAMPLE_DIR/rsakey.txt" 2>/dev/null
  encrypt_example rsakey
  # RSASSA-PKCS1-v1_5 is deterministic: openssl's signature is the answer.
  printf 'test data' | openssl dgst -sha256 -sign "$EXAMPLE_DIR/rsakey.pem" | base64 -w0 \
    >"$EXAMPLE_DIR/rsakey.expected"
}

example_inputs() {
  [ -f "$EXAMPLE_DIR/done" ] && [ -f "$EXAMPLE_SERVED/bank0.enc" ] && return 0
  mkdir -p "$EXAMPLE_DIR" "$EXAMPLE_SERVED"
  chmod 700 "$EXAMPLE_DIR"
  make_bank_inputs
  make_psi_inputs
  make_password_inputs
  make_rsa_inputs
  touch "$EXAMPLE_DIR/done"
}

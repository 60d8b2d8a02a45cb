# Shared by the example scripts: where `steep` is, how to reach the platform,
# and small helpers. Source it; do not run it.
#
#   STEEP_DIR   the platform directory made by `steep up --dir` (required)
#   FILES_URL   base URL of the file server (default http://localhost:6789)
#   FILES_DIR   the directory that file server serves (inputs and outputs)
#   EXAMPLE_DIR the examples' own plaintext and keys (default STEEP_HOME/example-inputs)
#   STEEP_HOME  where credentials are kept (default ~/.steep)

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
STEEP=${STEEP:-${STEEP_BIN:-$repo/build/bin}/steep}
: "${STEEP_DIR:?set STEEP_DIR to a platform directory (steep up --dir DIR)}"
FILES_URL=${FILES_URL:-http://localhost:6789}
: "${FILES_DIR:?set FILES_DIR to the directory the file server serves}"
export STEEP_DIR
ADMIN_PASSWORD=${ADMIN_PASSWORD:-teaclave}

say() { printf '\033[1m[%s]\033[0m %s\n' "$(basename "$0" .sh)" "$*"; }
die() { printf '[%s] FAILED: %s\n' "$(basename "$0" .sh)" "$*" >&2; exit 1; }

. "$here/inputs.sh"

# Registers USER (ignoring "user id exist" on a rerun) and logs in.
# ensure_user USER PASSWORD ROLE [ATTRIBUTE]
ensure_user() {
  local user=$1 password=$2 role=$3 attribute=${4:-}
  local out
  if ! out=$("$STEEP" user register "$user" --role "$role" ${attribute:+--attribute "$attribute"} \
        --password "$password" --user admin 2>&1); then
    case "$out" in *"user id exist"*) ;; *) die "register $user: $out" ;; esac
  fi
  "$STEEP" user login "$user" --password "$password" >/dev/null
}

admin_login() { "$STEEP" user login admin --password "$ADMIN_PASSWORD" >/dev/null; }

#!/usr/bin/env bash
# No ELF file under the given directories has an RPATH or RUNPATH entry that
# is empty or relative: the dynamic loader reads both as the current
# directory, so such a binary would load libraries from wherever it is
# started. Absolute entries and $ORIGIN-relative ones are fine.
#   check_runpath.sh DIR...
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: check_runpath.sh DIR..." >&2; exit 2; }
checked=0 bad=0
while IFS= read -r -d '' f; do
  head -c 4 "$f" 2>/dev/null | grep -q $'^\x7fELF' || continue
  checked=$((checked + 1))
  paths=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\]$/\2/p')
  [ -n "$paths" ] || continue
  # Split on ':' keeping empty fields: "a::b" has an empty middle entry.
  IFS=: read -r -a entries <<<"$paths:"
  for e in "${entries[@]}"; do
    case $e in
      /* | '$ORIGIN' | '$ORIGIN/'* | '${ORIGIN}' | '${ORIGIN}/'*) ;;
      *) echo "FAILED  $f: search path entry '${e}' (in '$paths') means the current directory"
         bad=$((bad + 1)); break ;;
    esac
  done
done < <(find "$@" -type f -perm -u+x -print0)
[ "$checked" -gt 0 ] || { echo "FAILED  no ELF file under $*"; exit 1; }
echo "checked $checked ELF files: $bad with a current-directory search path"
[ "$bad" = 0 ]

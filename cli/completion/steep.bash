# Bash completion for steep(1). Source it (or install it as
# /usr/share/bash-completion/completions/steep).
#
# Command groups, their sub-commands and each sub-command's options come from
# the steep binary itself (`steep __complete`, `steep GROUP __complete`,
# `steep GROUP SUB __complete`), read from the tables the CLI dispatches
# with, so the completion cannot drift from the commands. The launcher
# commands, which parse their own options, are listed here.

_steep_words() {
  "${_steep_bin:-${COMP_WORDS[0]}}" "$@" __complete 2>/dev/null || true
}

_steep() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local group=${COMP_WORDS[1]:-} words
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    words=$(_steep_words)
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
    return 0
  fi
  # Options naming files or directories complete as paths.
  case $prev in
    --backend)
      mapfile -t COMPREPLY < <(compgen -W "leveldb etcd" -- "$cur")
      return 0 ;;
    --dir|--files|--root|--enclave-info|--payload|--password-file|--evidence|--collateral)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return 0 ;;
  esac
  case $group in
    up)          words="--dir --files --executors --slots --port-base --files-port --restarts --face-model --backend --insecure-test-payloads --help" ;;
    down)        words="--dir --help" ;;
    status)      words="--dir --json --help" ;;
    metrics)
      if [[ $cur == -* ]]; then words="--dir --address --help"
      else words="storage access-control authentication management scheduler frontend execution-1"; fi ;;
    serve-files) words="--root --port --bind --help" ;;
    attest)      words="--dir --root --enclave-info --allow-simulation --json --evidence --collateral --at --accept-status --accept-advisory --allow-debug --help" ;;
    *)
      if [ "$COMP_CWORD" -eq 2 ]; then
        words=$(_steep_words "$group")
      elif [[ $cur == -* ]]; then
        words=$(_steep_words "$group" "${COMP_WORDS[2]}")
      else
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
      fi ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -F _steep steep

# Sourced by the test scripts: need_apt LOG PACKAGE... installs the Debian packages that are missing (as root, or
# with passwordless sudo), writing apt's output to LOG; a failure is reported, and the checks that need the
# package then fail with their own message.
need_apt() {
  local log=$1 p sudo=""
  shift
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >"$log" 2>&1 || echo "apt-get failed: see $log"
}

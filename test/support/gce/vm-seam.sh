# Sourced by components/scripts/swarm-node.sh through ATP_SEAM in the real-engine tests: the
# calls that need a GCE VM, for a node that is a dockerd in a network namespace (see
# test/swarm/scripted-node.ts). The script's own logic is not redefined here.
#   ATP_TEST_METADATA  host:port of the fake metadata server (test/support/gce)
#   ATP_TEST_SECRETS   host:port of the fake Secret Manager
#   ATP_TEST_SHARE     the host directory standing in for the Filestore share
# shellcheck shell=bash

cloud_metadata() {
  curl -fsS -H "Metadata-Flavor: Google" "http://${ATP_TEST_METADATA}/computeMetadata/v1/$1"
}

# The two gcloud commands the boot and maintenance paths use, as Secret Manager REST calls;
# errors carry the API's status (NOT_FOUND, PERMISSION_DENIED) on stderr as gcloud's do.
cloud_gcloud() {
  local token project="" secret="" a out code
  for a in "$@"; do
    case "${a}" in
      --project=*) project="${a#*=}" ;;
      --secret=*) secret="${a#*=}" ;;
    esac
  done
  token="$(cloud_metadata instance/service-accounts/default/token | sed -nE 's/.*"access_token" *: *"([^"]+)".*/\1/p')"
  local api="http://${ATP_TEST_SECRETS}/v1/projects/${project}/secrets"
  case "$1 $2 $3" in
    "secrets versions access")
      out="$(curl -sS -w '\n%{http_code}' -H "Authorization: Bearer ${token}" "${api}/${secret}/versions/latest:access")" || return 1
      code="${out##*$'\n'}"
      out="${out%$'\n'*}"
      if [[ "${code}" != 200 ]]; then
        printf 'ERROR: (gcloud.secrets.versions.access) %s\n' "${out}" >&2
        return 1
      fi
      printf '%s' "${out}" | sed -nE 's/.*"data" *: *"([^"]*)".*/\1/p' | base64 -d
      ;;
    "secrets versions add")
      [[ " $* " == *" --data-file=- "* ]] || {
        echo "vm-seam: only --data-file=- is supported" >&2
        return 2
      }
      { printf '{"payload":{"data":"'; base64 -w0; printf '"}}'; } |
        curl -fsS -o /dev/null -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" \
          --data-binary @- "${api}/$4:addVersion"
      ;;
    *)
      echo "vm-seam: gcloud $1 $2 $3 is not faked" >&2
      return 2
      ;;
  esac
}

# Packages: the node's docker, mount and stunnel are the host's (installed by .ci/run).
node_has() { command -v "$1" >/dev/null || [[ "$1" == mount.nfs ]]; }
node_apt() { printf 'apt-get %s\n' "$*" >>"${ATP_ROOT}/seam.log"; }
cloud_install_ops_agent() { printf 'ops-agent\n' >>"${ATP_ROOT}/seam.log"; }

# systemd: the node's dockerd is the test's (started before the script, never restarted);
# the Engine API unit is run for real: stunnel in this node's namespaces, SIGHUP to reload.
node_systemctl() {
  printf 'systemctl %s\n' "$*" >>"${ATP_ROOT}/seam.log"
  local pidfile="${ATP_ROOT}/run/${ENGINE_TLS_UNIT}.pid"
  case "$*" in
    "is-active --quiet ${ENGINE_TLS_UNIT}")
      [[ -s "${pidfile}" ]] && kill -0 "$(cat "${pidfile}")" 2>/dev/null
      ;;
    "is-active --quiet "*) return 0 ;;
    "enable --now ${ENGINE_TLS_UNIT}")
      node_systemctl is-active --quiet "${ENGINE_TLS_UNIT}" && return 0
      mkdir -p "${ATP_ROOT}/run"
      setsid stunnel4 "${ATP_ROOT}/etc/stunnel/${ENGINE_TLS_UNIT}.conf" \
        </dev/null >>"${ATP_ROOT}/${ENGINE_TLS_UNIT}.log" 2>&1 &
      printf '%s' "$!" >"${pidfile}"
      ;;
    "reload ${ENGINE_TLS_UNIT}") kill -HUP "$(cat "${pidfile}")" ;;
    *) return 0 ;;
  esac
}

# The Filestore share: the host directory, bind-mounted at the mount point under ATP_ROOT.
share_mounted() { mountpoint -q "${ATP_ROOT}$1"; }
share_mount() { mount --bind "${ATP_TEST_SHARE}" "${ATP_ROOT}$1"; }
share_umount() { umount "${ATP_ROOT}$1"; }

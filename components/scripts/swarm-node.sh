#!/usr/bin/env bash
# atplatform swarm node: startup script of every swarm VM (GCE runs it at every boot) and,
# installed as /usr/local/sbin/atplatform-swarm, the periodic maintenance job of managers.
#
#   boot      install Docker + NFS client, mount the atServer share, configure the Docker
#             daemon (managers: TLS Engine API), form or join the swarm, install the timer
#   maintain  every manager: reload the Engine API's TLS endpoint when Secret Manager holds a
#             re-issued certificate. Manager 0 also: publish the swarm's wildcard certificate
#             as Docker secrets and move services onto it, renew it by ACME (acme mode), prune
#             departed workers, take the daily Filestore backup (backup owner only)
#   images    every node, at boot (before joining) and every 2 minutes: pre-pull the pinned
#             image digests listed in Secret Manager, with this VM's own identity
#   leave     workers, from GCE's shutdown script (scale-in, template roll-out, repair):
#             leave the swarm so its atServers are rescheduled at once, not after the
#             node-down timeout
#
# Join tokens live only in Secret Manager: they are read into shell variables, passed to
# `docker swarm join`, and never printed or written to disk.
#
# The variables below are rendered per swarm and role by components/swarm-script.ts.
# @@ATP_VARS@@
set -euo pipefail

# Test hooks: a sandbox prefix for every file this script writes, the Docker socket, retry
# pacing, and the seam file (below).
ATP_ROOT="${ATP_ROOT:-}"
ATP_DOCKER_SOCKET="${ATP_DOCKER_SOCKET:-/var/run/docker.sock}"
ATP_RETRIES="${ATP_RETRIES:-90}"
ATP_RETRY_DELAY="${ATP_RETRY_DELAY:-10}"

readonly DOCKER_TLS_DIR="/etc/docker/tls"
readonly ENGINE_TLS_UNIT="atplatform-engine-tls"
readonly SELF="/usr/local/sbin/atplatform-swarm"

log() { printf 'atplatform-swarm[%s]: %s\n' "${ATP_ROLE}" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# --- the seam: every call that needs a GCE VM -----------------------------------------
# On a VM these run as written. The real-engine tests (test/swarm/multi-node.spec.ts) point
# ATP_SEAM at a file that redefines them for a node that is a dockerd in a network namespace:
# gcloud and the metadata server go to small HTTP fakes, systemd, apt and the NFS mount act
# on that node. Everything else in this script runs unchanged there.
cloud_gcloud() { gcloud "$@"; }
# cloud_metadata PATH: GET computeMetadata/v1/PATH from the GCE metadata server.
cloud_metadata() {
  curl -fsS -H "Metadata-Flavor: Google" "http://metadata.google.internal/computeMetadata/v1/$1"
}
cloud_install_ops_agent() {
  curl -fsSL -o /tmp/add-ops-agent.sh https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh &&
    bash /tmp/add-ops-agent.sh --also-install --version="${ATP_OPS_AGENT_VERSION}"
}
node_has() { command -v "$1" >/dev/null; }
node_apt() { apt-get "$@"; }
node_systemctl() { systemctl "$@"; }
share_mounted() { mountpoint -q "$1"; }
share_mount() { mount "$1"; }
share_umount() { umount "$1"; }
if [[ -n "${ATP_SEAM:-}" ]]; then
  # shellcheck source=/dev/null
  source "${ATP_SEAM}"
fi

# --- Secret Manager -------------------------------------------------------------------
# secret_get NAME: prints the latest version; exit 3 when the secret has no version yet.
secret_get() {
  local out err rc=0
  err="$(mktemp)"
  out="$(cloud_gcloud secrets versions access latest --secret="$1" --project="${ATP_PROJECT}" 2>"${err}")" || rc=$?
  if [[ ${rc} -ne 0 ]]; then
    if grep -q "NOT_FOUND" "${err}"; then rc=3; fi
    rm -f "${err}"
    return "${rc}"
  fi
  rm -f "${err}"
  printf '%s' "${out}"
}

# secret_put NAME VALUE: adds a version (the value goes through stdin, never argv).
secret_put() {
  printf '%s' "$2" | cloud_gcloud secrets versions add "$1" --project="${ATP_PROJECT}" --data-file=- >/dev/null
}

# secret_to_file NAME PATH MODE: writes the latest version to PATH (atomically).
secret_to_file() {
  local tmp
  tmp="$(mktemp "${ATP_ROOT}$2.XXXXXX")"
  chmod "$3" "${tmp}"
  secret_get "$1" >"${tmp}" || {
    rm -f "${tmp}"
    return 1
  }
  mv -f "${tmp}" "${ATP_ROOT}$2"
}

valid_token() { [[ "$1" =~ ^SWMTKN-1-[a-z0-9]+-[a-z0-9]+$ ]]; }

# retry CMD...: runs CMD until it succeeds, ATP_RETRIES times, ATP_RETRY_DELAY apart.
retry() {
  local i
  for ((i = 1; i <= ATP_RETRIES; i++)); do
    if "$@"; then return 0; fi
    sleep "${ATP_RETRY_DELAY}"
  done
  return 1
}

# --- images ---------------------------------------------------------------------------
# Artifact Registry is private and swarm tasks pull with whatever X-Registry-Auth the service
# was created with (dockerd ignores credential helpers for them). Instead every node pulls
# the pinned digests itself, before it joins and then periodically; a task whose image is
# given by digest and present locally is started without any pull (moby
# daemon/cluster/executor/container/adapter.go, pullImage), so an atServer rescheduled to any
# node, at any time, starts without credentials. The list (one `<host>/<path>@sha256:<hex>`
# per line) is a Secret Manager version the stack writes; only Artifact Registry hosts pass.
valid_image() { [[ "$1" =~ ^[a-z0-9-]+-docker\.pkg\.dev/[a-z0-9._/-]+@sha256:[a-f0-9]{64}$ ]]; }

# A short-lived OAuth token of this VM's service account (never written to disk).
registry_token() {
  cloud_metadata instance/service-accounts/default/token |
    sed -nE 's/.*"access_token" *: *"([^"]+)".*/\1/p'
}

# pull_images: 0 when every listed image is present (or no list exists yet), 1 otherwise.
pull_images() {
  local list rc=0 ref host token="" cfg failed=0
  list="$(secret_get "${ATP_IMAGES_SECRET}")" || rc=$?
  if [[ ${rc} -eq 3 ]]; then
    log "no image list yet"
    return 0
  fi
  [[ ${rc} -eq 0 ]] || return 1
  # Logins go to a throw-away config directory, removed when done.
  cfg="$(mktemp -d)"
  for ref in ${list}; do
    if ! valid_image "${ref}"; then
      log "refusing image ${ref}: only Artifact Registry images pinned by digest are pulled"
      failed=1
      continue
    fi
    docker image inspect "${ref}" >/dev/null 2>&1 && continue
    host="${ref%%/*}"
    [[ -n "${token}" ]] || token="$(registry_token)" || true
    if [[ -z "${token}" ]] ||
      ! printf '%s' "${token}" | DOCKER_CONFIG="${cfg}" docker login -u oauth2accesstoken --password-stdin "https://${host}" >/dev/null 2>&1 ||
      ! DOCKER_CONFIG="${cfg}" docker pull -q "${ref}" >/dev/null; then
      log "pulling ${ref} failed; will retry"
      failed=1
    else
      log "pulled ${ref}"
    fi
  done
  token=""
  rm -rf "${cfg}"
  return "${failed}"
}

# --- identity -------------------------------------------------------------------------
my_ip() { cloud_metadata instance/network-interfaces/0/ip; }

# Managers are named <swarm>-mgr-<n> (pinned by per-instance configs); manager 0 bootstraps.
manager_index() {
  local name
  name="$(hostname)"
  if [[ "${name}" =~ -mgr-([0-9]+)$ ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf -- '-1'; fi
}

# --- packages -------------------------------------------------------------------------
# Every package comes from one Debian snapshot (ATP_APT_SNAPSHOT), so each boot of a template
# installs the same versions; the image's own, moving sources are set aside.
pin_package_sources() {
  local dir="${ATP_ROOT}/etc/apt" url="https://snapshot.debian.org/archive" f
  mkdir -p "${dir}/sources.list.d"
  for f in "${dir}/sources.list" "${dir}"/sources.list.d/*; do
    [[ -f "${f}" && "${f}" != */atplatform-snapshot.list ]] && mv -f "${f}" "${f}.floating"
  done
  printf 'deb [check-valid-until=no] %s/%s/%s %s main\n' \
    "${url}" debian "${ATP_APT_SNAPSHOT}" bookworm \
    "${url}" debian "${ATP_APT_SNAPSHOT}" bookworm-updates \
    "${url}" debian-security "${ATP_APT_SNAPSHOT}" bookworm-security \
    >"${dir}/sources.list.d/atplatform-snapshot.list"
}

install_packages() {
  # Managers serve the Engine API through stunnel (see configure_engine_tls).
  if node_has docker && node_has mount.nfs && { [[ "${ATP_ROLE}" == worker ]] || node_has stunnel4; }; then
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  pin_package_sources
  retry node_apt update -qq || die "apt-get update failed"
  local pkgs=(docker.io nfs-common)
  if [[ "${ATP_ROLE}" == manager ]]; then pkgs+=(stunnel4); fi
  if [[ "${ATP_ROLE}" == manager && "${ATP_TLS_MODE}" == acme ]]; then
    pkgs+=(certbot python3-certbot-dns-google)
  fi
  retry node_apt install -y -qq --no-install-recommends "${pkgs[@]}" || die "apt-get install failed"
  # The Ops Agent (pinned version) on every node: the workers' autoscaler reads its memory
  # metrics, and it forwards the node metrics agent's series (managers report swarm health).
  if ! node_systemctl is-active --quiet google-cloud-ops-agent; then
    if ! cloud_install_ops_agent; then
      log "ops agent install failed; node metrics and memory autoscaling degraded"
    fi
  fi
}

# --- metrics --------------------------------------------------------------------------
# The Ops Agent ships with the node image; its Prometheus receiver (the node metrics agent
# on 127.0.0.1:9464) comes from instance metadata (components/ops-agent-config.ts). The agent
# restarts only when the configuration changed.
configure_ops_agent() {
  local dir="${ATP_ROOT}/etc/google-cloud-ops-agent" want
  if [[ ! -d "${dir}" ]]; then
    log "no Ops Agent on this image; node metrics are not collected"
    return 0
  fi
  if ! want="$(cloud_metadata instance/attributes/atplatform-ops-agent-config)"; then
    log "no Ops Agent configuration in the instance metadata"
    return 0
  fi
  if [[ -f "${dir}/config.yaml" && "$(cat "${dir}/config.yaml")" == "${want}" ]]; then return 0; fi
  printf '%s\n' "${want}" >"${dir}/config.yaml.new"
  mv "${dir}/config.yaml.new" "${dir}/config.yaml"
  node_systemctl restart google-cloud-ops-agent || log "Ops Agent restart failed"
}

# --- storage --------------------------------------------------------------------------
fstab_line() {
  printf '%s:/%s %s nfs vers=3,hard,noatime,timeo=600,retrans=3,_netdev,nofail 0 0' \
    "${ATP_NFS_SERVER}" "${ATP_NFS_SHARE}" "${ATP_NFS_MOUNT}"
}

# Exactly one fstab entry for the mount point (a changed server replaces the old line).
mount_storage() {
  local fstab="${ATP_ROOT}/etc/fstab" line tmp
  line="$(fstab_line)"
  mkdir -p "${ATP_ROOT}${ATP_NFS_MOUNT}" "$(dirname "${fstab}")"
  touch "${fstab}"
  if ! grep -qxF "${line}" "${fstab}"; then
    tmp="$(mktemp)"
    awk -v mp="${ATP_NFS_MOUNT}" '$2 != mp' "${fstab}" >"${tmp}"
    printf '%s\n' "${line}" >>"${tmp}"
    cat "${tmp}" >"${fstab}"
    rm -f "${tmp}"
    if share_mounted "${ATP_NFS_MOUNT}"; then share_umount "${ATP_NFS_MOUNT}" || true; fi
  fi
  if ! share_mounted "${ATP_NFS_MOUNT}"; then
    retry share_mount "${ATP_NFS_MOUNT}" || die "cannot mount ${ATP_NFS_SERVER}:/${ATP_NFS_SHARE}"
  fi
  # atServer storage is sharded below here by the orchestrator; uid 1024 is the atServer user.
  mkdir -p "${ATP_ROOT}${ATP_NFS_MOUNT}/atservers"
  chown 1024:1024 "${ATP_ROOT}${ATP_NFS_MOUNT}/atservers" 2>/dev/null || true
}

# --- Docker daemon --------------------------------------------------------------------
# dockerd listens on its unix socket only. A manager's Engine API (the registrar's way in) is
# served by stunnel on :2376 with mutual TLS against the swarm's Docker CA, forwarding to
# that socket: dockerd loads --tlscert only when it starts, and restarting a manager's
# dockerd to rotate a certificate would take a Raft member down each time. stunnel re-reads
# its certificates on SIGHUP (systemctl reload) with no restart and without dropping open
# connections; `maintain` does that whenever Secret Manager holds a re-issued certificate.
configure_docker() {
  local etc="${ATP_ROOT}/etc/docker" unit="${ATP_ROOT}/etc/systemd/system/docker.service.d"
  mkdir -p "${etc}" "${unit}"
  local daemon="{ \"hosts\": [\"unix://${ATP_DOCKER_SOCKET}\"], \"log-driver\": \"local\", \"live-restore\": false }"
  local changed=0
  if [[ "$(cat "${etc}/daemon.json" 2>/dev/null)" != "${daemon}" ]]; then
    printf '%s' "${daemon}" >"${etc}/daemon.json"
    changed=1
  fi
  # The packaged unit passes -H fd://, which conflicts with "hosts" in daemon.json.
  local dropin=$'[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock'
  if [[ "$(cat "${unit}/atplatform.conf" 2>/dev/null)" != "${dropin}" ]]; then
    printf '%s' "${dropin}" >"${unit}/atplatform.conf"
    changed=1
  fi
  if [[ ${changed} -eq 1 ]]; then
    node_systemctl daemon-reload
    node_systemctl restart docker
  fi
  node_systemctl enable --now docker >/dev/null
  if [[ "${ATP_ROLE}" == manager ]]; then configure_engine_tls; fi
}

# fetch_engine_tls: the Engine API's CA, certificate chain and key from Secret Manager into
# DOCKER_TLS_DIR; ENGINE_TLS_CHANGED=1 when any of them differs from what was there.
ENGINE_TLS_CHANGED=0
fetch_engine_tls() {
  local dir="${ATP_ROOT}${DOCKER_TLS_DIR}" part mode before
  ENGINE_TLS_CHANGED=0
  mkdir -p "${dir}"
  chmod 0700 "${dir}"
  for part in ca cert key; do
    mode=0644
    [[ "${part}" == key ]] && mode=0600
    before="$(sha256sum "${dir}/${part}.pem" 2>/dev/null)" || before=""
    retry secret_to_file "${ATP_DOCKER_SECRET_PREFIX}-${part}" "${DOCKER_TLS_DIR}/${part}.pem" "${mode}" ||
      return 1
    [[ "$(sha256sum "${dir}/${part}.pem")" == "${before}" ]] || ENGINE_TLS_CHANGED=1
  done
}

configure_engine_tls() {
  local running=0
  if node_systemctl is-active --quiet "${ENGINE_TLS_UNIT}"; then running=1; fi
  fetch_engine_tls || die "no Docker Engine API certificate in Secret Manager"
  local tls="${ATP_ROOT}${DOCKER_TLS_DIR}" sd="${ATP_ROOT}/etc/systemd/system"
  mkdir -p "${ATP_ROOT}/etc/stunnel" "${sd}"
  # requireCert + verifyChain: only clients with a certificate from the swarm's Docker CA.
  cat >"${ATP_ROOT}/etc/stunnel/${ENGINE_TLS_UNIT}.conf" <<CONF
foreground = yes
[docker-engine]
accept = 2376
connect = ${ATP_DOCKER_SOCKET}
cert = ${tls}/cert.pem
key = ${tls}/key.pem
CAfile = ${tls}/ca.pem
requireCert = yes
verifyChain = yes
sslVersionMin = TLSv1.2
CONF
  # shellcheck disable=SC2016 # $MAINPID is systemd's, not ours
  printf '[Unit]\nDescription=atplatform Docker Engine API (mutual TLS)\nAfter=docker.service\n[Service]\nExecStart=/usr/bin/stunnel4 %s\nExecReload=/bin/kill -HUP $MAINPID\nRestart=always\n[Install]\nWantedBy=multi-user.target\n' \
    "/etc/stunnel/${ENGINE_TLS_UNIT}.conf" >"${sd}/${ENGINE_TLS_UNIT}.service"
  node_systemctl daemon-reload
  node_systemctl enable --now "${ENGINE_TLS_UNIT}" >/dev/null
  # Run again on a live VM after a re-issue: the endpoint still has the old files loaded.
  if [[ ${running} -eq 1 && ${ENGINE_TLS_CHANGED} -eq 1 ]]; then node_systemctl reload "${ENGINE_TLS_UNIT}"; fi
}

# Every manager, from the maintenance timer: pick up a re-issued Engine API certificate.
refresh_engine_tls() {
  if ! fetch_engine_tls; then
    log "cannot read the Engine API certificate; keeping the current one"
    return 0
  fi
  [[ ${ENGINE_TLS_CHANGED} -eq 1 ]] || return 0
  node_systemctl reload "${ENGINE_TLS_UNIT}"
  log "Engine API certificate reloaded"
}

# --- swarm membership -----------------------------------------------------------------
swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || printf 'unknown'; }

# read_token manager|worker: the join token into the global TOKEN (never printed).
TOKEN=""
read_token() {
  local rc=0
  TOKEN="$(secret_get "${ATP_SWARM}-$1-token")" || rc=$?
  if [[ ${rc} -ne 0 ]]; then
    TOKEN=""
    return "${rc}"
  fi
  valid_token "${TOKEN}" || die "the $1 join token in Secret Manager is malformed; refusing to use it"
}

# probe_manager_token: succeeds when the manager token was read (TOKEN_RC=0) or has no
# version yet (TOKEN_RC=3, a new swarm); fails on anything else (e.g. PERMISSION_DENIED).
TOKEN_RC=0
probe_manager_token() {
  TOKEN_RC=0
  read_token manager || TOKEN_RC=$?
  TOKEN=""
  [[ ${TOKEN_RC} -eq 0 || ${TOKEN_RC} -eq 3 ]]
}

init_swarm() {
  local ip="$1"
  log "initialising swarm ${ATP_SWARM} on ${ip}"
  # Overlay networks come from a pool that overlaps nothing in the VPC (docs/architecture.md).
  docker swarm init --advertise-addr "${ip}" --listen-addr "${ip}:2377" \
    --default-addr-pool "${ATP_OVERLAY_POOL}" --default-addr-pool-mask-length "${ATP_OVERLAY_POOL_MASK}" >/dev/null
  ensure_ingress
  store_tokens
}

# The default routing-mesh network is a /24: every published service takes a VIP and each
# task an address on it, so it fills at about 128 atServers (moby/swarmkit#2958). Manager 0
# replaces it with ATP_INGRESS_SUBNET before any service exists; the MTU leaves room for the
# VXLAN header inside the VPC's 1460-byte MTU. Once services exist it is never touched.
ensure_ingress() {
  local subnet
  subnet="$(docker network inspect ingress --format '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null)" || subnet=""
  [[ "${subnet}" == "${ATP_INGRESS_SUBNET}" ]] && return 0
  if [[ -n "$(docker service ls -q)" ]]; then
    log "error: ingress is ${subnet:-missing}, not ${ATP_INGRESS_SUBNET}, and services exist; see operations.md"
    return 0
  fi
  if [[ -n "${subnet}" ]]; then
    printf 'y\n' | docker network rm ingress >/dev/null
  fi
  retry docker network create --driver overlay --ingress --subnet "${ATP_INGRESS_SUBNET}" \
    --opt "com.docker.network.driver.mtu=${ATP_OVERLAY_MTU}" ingress >/dev/null ||
    die "cannot create the ingress network"
  log "ingress network on ${ATP_INGRESS_SUBNET}"
}

store_tokens() {
  local t
  t="$(docker swarm join-token -q manager)"
  secret_put "${ATP_SWARM}-manager-token" "${t}"
  t="$(docker swarm join-token -q worker)"
  secret_put "${ATP_SWARM}-worker-token" "${t}"
  log "join tokens stored in Secret Manager"
}

# try_join ROLE MYIP: one attempt to join through each manager (except this VM).
try_join() {
  local role="$1" ip="$2" m
  read_token "${role}" || return 1
  for m in ${ATP_MANAGER_IPS}; do
    [[ "${m}" == "${ip}" ]] && continue
    if docker swarm join --token "${TOKEN}" --advertise-addr "${ip}" "${m}:2377" >/dev/null 2>&1; then
      TOKEN=""
      log "joined swarm ${ATP_SWARM} as ${role} through ${m}"
      return 0
    fi
  done
  TOKEN=""
  return 1
}

# A recreated manager keeps its name; its previous incarnation is left in the node list as
# "down". Remove that entry so the swarm does not count it towards quorum.
remove_stale_self() {
  local name id status self
  name="$(hostname)"
  while read -r id status self; do
    [[ "${self}" == "true" || "${status}" != "Down" ]] && continue
    log "removing stale swarm entry ${id} of ${name}"
    docker node demote "${id}" >/dev/null 2>&1 || true
    docker node rm --force "${id}" >/dev/null
  done < <(docker node ls --filter "name=${name}" --format '{{.ID}} {{.Status}} {{.Self}}')
}

join_swarm() {
  local ip state
  ip="$(my_ip)"
  state="$(swarm_state)"
  local bootstrap=0
  TOKEN_RC=0
  if [[ "${ATP_ROLE}" == manager && "$(manager_index)" == 0 ]]; then
    bootstrap=1
    # A fresh VM's grants may not have propagated yet (PERMISSION_DENIED): retry.
    retry probe_manager_token || die "cannot read the manager join token"
  fi
  local rc=${TOKEN_RC}
  if [[ "${state}" == active ]]; then
    log "already in swarm ${ATP_SWARM}"
    # Initialised earlier but stopped before the ingress or the tokens were done: finish.
    if [[ ${bootstrap} -eq 1 ]]; then ensure_ingress; fi
    if [[ ${bootstrap} -eq 1 && ${rc} -eq 3 ]]; then store_tokens; fi
    return 0
  fi
  if [[ ${bootstrap} -eq 1 && ${rc} -eq 3 ]]; then
    init_swarm "${ip}"
    return 0
  fi
  retry try_join "${ATP_ROLE}" "${ip}" || die "could not join swarm ${ATP_SWARM}"
  if [[ "${ATP_ROLE}" == manager ]]; then remove_stale_self; fi
}

# A worker going away (GCE gives the shutdown script about 90 s): leaving makes the
# managers reschedule its tasks immediately. Managers never leave (that would shrink Raft).
leave_swarm() {
  [[ "${ATP_ROLE}" == worker ]] || return 0
  [[ "$(swarm_state)" == active ]] || return 0
  docker swarm leave >/dev/null 2>&1 || log "leaving the swarm failed"
  log "left swarm ${ATP_SWARM}"
}

# --- maintenance (manager 0) ----------------------------------------------------------
# Publishes the current wildcard certificate as a pair of Docker secrets named after its
# hash, then moves every atServer service that still uses an older pair onto it.
tls_sync() {
  local cert key hash
  cert="$(secret_get "${ATP_TLS_SECRET_PREFIX}-cert")" || {
    log "no wildcard certificate yet"
    return 0
  }
  key="$(secret_get "${ATP_TLS_SECRET_PREFIX}-key")" || die "wildcard key missing"
  hash="$(printf '%s' "${cert}" | sha256sum | cut -c1-12)"
  local crt_name="atserver-tls-crt-${hash}" key_name="atserver-tls-key-${hash}"
  if ! docker secret inspect "${crt_name}" >/dev/null 2>&1; then
    # private-ca: the stack declares the pair (second step of `up`, swarm-engine.ts).
    if [[ "${ATP_TLS_MODE}" != acme ]]; then
      log "certificate ${hash} not yet published by the stack"
      return 0
    fi
    printf '%s\n' "${cert}" | docker secret create --label atplatform.tls=wildcard "${crt_name}" - >/dev/null
    printf '%s\n' "${key}" | docker secret create --label atplatform.tls=wildcard "${key_name}" - >/dev/null
    log "published wildcard certificate ${hash}"
  fi
  key=""
  local svc old
  while read -r svc; do
    [[ -z "${svc}" ]] && continue
    old="$(docker service inspect --format '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}' "${svc}")"
    local args=() s
    for s in ${old}; do
      if [[ "${s}" == atserver-tls-crt-* && "${s}" != "${crt_name}" ]]; then
        args+=(--secret-rm "${s}" --secret-add "source=${crt_name},target=atserver-tls.crt,uid=1024,mode=0444")
      elif [[ "${s}" == atserver-tls-key-* && "${s}" != "${key_name}" ]]; then
        args+=(--secret-rm "${s}" --secret-add "source=${key_name},target=atserver-tls.key,uid=1024,mode=0400")
      fi
    done
    if [[ ${#args[@]} -gt 0 ]]; then
      docker service update --detach --quiet "${args[@]}" "${svc}" >/dev/null
      log "moved ${svc} to certificate ${hash}"
    fi
  done < <(docker service ls --filter label=atplatform.atsign --format '{{.Name}}')
  # Pairs no service uses any more are removed (docker refuses to remove ones in use).
  local name
  while read -r name; do
    [[ "${name}" == "${crt_name}" || "${name}" == "${key_name}" || -z "${name}" ]] && continue
    docker secret rm "${name}" >/dev/null 2>&1 || true
  done < <(docker secret ls --filter label=atplatform.tls=wildcard --format '{{.Name}}')
}

# ACME DNS-01 via Cloud DNS; certbot renews only within 30 days of expiry, and its deploy
# hook stores the new certificate in Secret Manager, from where tls_sync publishes it.
acme_renew() {
  [[ "${ATP_TLS_MODE}" == acme ]] || return 0
  certbot certonly --non-interactive --agree-tos --email "${ATP_ACME_EMAIL}" \
    --server "${ATP_ACME_SERVER}" --dns-google --dns-google-propagation-seconds 90 \
    --cert-name "${ATP_SWARM}" -d "*.${ATP_SWARM_DOMAIN}" -d "${ATP_SWARM_DOMAIN}" \
    --keep-until-expiring --deploy-hook "${SELF} publish-cert" >/dev/null
}

publish_cert() {
  local dir="${RENEWED_LINEAGE:?certbot sets RENEWED_LINEAGE}"
  cloud_gcloud secrets versions add "${ATP_TLS_SECRET_PREFIX}-cert" --project="${ATP_PROJECT}" \
    --data-file="${dir}/fullchain.pem" >/dev/null
  cloud_gcloud secrets versions add "${ATP_TLS_SECRET_PREFIX}-key" --project="${ATP_PROJECT}" \
    --data-file="${dir}/privkey.pem" >/dev/null
  log "renewed certificate stored in Secret Manager"
}

# Workers removed by the autoscaler stay "down" in the node list; forget them.
prune_workers() {
  local id status
  while read -r id status; do
    if [[ "${status}" == "Down" ]]; then docker node rm "${id}" >/dev/null 2>&1 || true; fi
  done < <(docker node ls --filter role=worker --format '{{.ID}} {{.Status}}')
}

# Daily backup of the atServer share, named by date; backups older than the retention go.
backup_storage() {
  [[ -n "${ATP_BACKUP_INSTANCE}" ]] || return 0
  local today name cutoff b
  today="$(date -u +%Y%m%d)"
  name="atservers-${today}"
  if ! cloud_gcloud filestore backups describe "${name}" --region="${ATP_REGION}" --project="${ATP_PROJECT}" >/dev/null 2>&1; then
    cloud_gcloud filestore backups create "${name}" --region="${ATP_REGION}" --project="${ATP_PROJECT}" \
      --instance="${ATP_BACKUP_INSTANCE}" --instance-location="${ATP_BACKUP_LOCATION}" \
      --file-share="${ATP_NFS_SHARE}" --async >/dev/null
    log "backup ${name} started"
  fi
  cutoff="$(date -u -d "${ATP_BACKUP_KEEP_DAYS} days ago" +%Y%m%d)"
  while read -r b; do
    b="${b##*/}"
    [[ "${b}" =~ ^atservers-([0-9]{8})$ ]] || continue
    if [[ "${BASH_REMATCH[1]}" < "${cutoff}" ]]; then
      cloud_gcloud filestore backups delete "${b}" --region="${ATP_REGION}" --project="${ATP_PROJECT}" --quiet --async >/dev/null
      log "backup ${b} expired"
    fi
  done < <(cloud_gcloud filestore backups list --region="${ATP_REGION}" --project="${ATP_PROJECT}" --format='value(name)')
}

maintain() {
  [[ "${ATP_ROLE}" == manager ]] || return 0
  refresh_engine_tls
  [[ "$(manager_index)" == 0 ]] || return 0
  [[ "$(swarm_state)" == active ]] || {
    log "not in the swarm yet"
    return 0
  }
  acme_renew || log "ACME renewal failed; will retry"
  ensure_ingress
  tls_sync
  prune_workers
  backup_storage || log "backup failed; will retry"
}

install_timer() {
  local sd="${ATP_ROOT}/etc/systemd/system"
  mkdir -p "${sd}" "$(dirname "${ATP_ROOT}${SELF}")"
  install -m 0755 "$0" "${ATP_ROOT}${SELF}"
  printf '[Unit]\nDescription=atplatform image pre-pull\n[Service]\nType=oneshot\nExecStart=%s images\n' \
    "${SELF}" >"${sd}/atplatform-images.service"
  printf '[Unit]\nDescription=atplatform image pre-pull\n[Timer]\nOnBootSec=2min\nOnUnitActiveSec=2min\n[Install]\nWantedBy=timers.target\n' \
    >"${sd}/atplatform-images.timer"
  node_systemctl daemon-reload
  node_systemctl enable --now atplatform-images.timer >/dev/null
  [[ "${ATP_ROLE}" == manager ]] || return 0
  printf '[Unit]\nDescription=atplatform swarm maintenance\n[Service]\nType=oneshot\nExecStart=%s maintain\n' \
    "${SELF}" >"${sd}/atplatform-swarm.service"
  printf '[Unit]\nDescription=atplatform swarm maintenance\n[Timer]\nOnBootSec=2min\nOnUnitActiveSec=15min\nRandomizedDelaySec=60\n[Install]\nWantedBy=timers.target\n' \
    >"${sd}/atplatform-swarm.timer"
  node_systemctl daemon-reload
  node_systemctl enable --now atplatform-swarm.timer >/dev/null
}

boot() {
  install_packages
  configure_ops_agent
  mount_storage
  configure_docker
  # A node joins only with the images it will be asked to run (a worker is never handed a
  # task it cannot start).
  retry pull_images || die "could not pre-pull the swarm's images"
  join_swarm
  install_timer
  log "ready"
}

main() {
  case "${1:-boot}" in
    boot) boot ;;
    maintain) maintain ;;
    images) pull_images ;;
    leave) leave_swarm ;;
    publish-cert) publish_cert ;;
    *) die "unknown command $1" ;;
  esac
}

if [[ "${ATP_SOURCE_ONLY:-0}" != 1 ]]; then main "$@"; fi

# Helpers for test layers that need several PostgreSQL clusters on loopback
# (Citus coordinator + workers, postgres_fdw shards).  Source this file.
#
#   av_cluster_start NAME PORT [postgres -c options...]
#   av_psql PORT [psql args...]
#   av_clusters_stop           (registered as an EXIT trap by the first start)
#
# Clusters live under a temporary directory, run as the "postgres" user when
# started by root (the server refuses to run as root), listen on 127.0.0.1
# only, and are stopped and removed on exit.

AV_PGBIN=${AV_PGBIN:-$(pg_config --bindir)}
AV_CLUSTER_ROOT=${AV_CLUSTER_ROOT:-}
AV_CLUSTER_PORTS=()

av_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

av_clusters_stop() {
  local port
  for port in "${AV_CLUSTER_PORTS[@]+"${AV_CLUSTER_PORTS[@]}"}"; do
    av_as_owner "$AV_PGBIN/pg_ctl" -D "$AV_CLUSTER_ROOT/$port" -m immediate stop >/dev/null 2>&1 || true
  done
  [ -n "$AV_CLUSTER_ROOT" ] && rm -rf "$AV_CLUSTER_ROOT"
}

av_cluster_start() {
  local name=$1 port=$2; shift 2
  if [ -z "$AV_CLUSTER_ROOT" ]; then
    AV_CLUSTER_ROOT=$(mktemp -d /tmp/apivalue-clusters.XXXXXX)
    chmod 755 "$AV_CLUSTER_ROOT"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$AV_CLUSTER_ROOT"
    trap av_clusters_stop EXIT
  fi
  local dir=$AV_CLUSTER_ROOT/$port
  av_as_owner "$AV_PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$AV_CLUSTER_ROOT -c fsync=off -c synchronous_commit=off -c max_connections=100"
  local o
  for o in "$@"; do opts+=" -c $o"; done
  av_as_owner "$AV_PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -o "$opts" -w start >/dev/null
  AV_CLUSTER_PORTS+=("$port")
  echo "started $name on 127.0.0.1:$port"
}

av_psql() {
  local port=$1; shift
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

# Free TCP port numbers: BASE, BASE+1, ... skipping ports in use.
av_free_ports() {
  local n=$1 p=${2:-55400} out=()
  while [ ${#out[@]} -lt "$n" ]; do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then out+=("$p"); fi
    p=$((p + 1))
  done
  echo "${out[@]}"
}

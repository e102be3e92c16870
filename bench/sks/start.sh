#!/usr/bin/env bash
# Builds an SKS keyserver (Debian package `sks`) from keydump files in a new temporary folder and starts it on
# loopback: `sks db` (HKP) and, unless NO_RECON=1, `sks recon`. Prints where it listens and how to stop it.
#
#   bench/sks/start.sh KEYDUMP_DIR [HKP_PORT]        (default port 11380; recon listens on HKP_PORT+1)
#
# NO_RECON=1: no `sks recon`. SKS_BASE=DIR: build there. BUILD_ONLY=1: build the database, print its folder and the times, start nothing.
# Prints SKS_BUILD_SECONDS, SKS_CLEANDB_SECONDS, SKS_PBUILD_SECONDS (wall time of each step), SKS_DIR, and once
# started SKS_URL and SKS_PIDS (npm run bench reads these lines when it starts SKS itself).
#
# KEYDUMP_DIR holds *.pgp keydump files, e.g. from `npm run bench -- --keys N --write-keydump DIR`.
# Debian's sks puts its files under BASEDIR/var/lib/sks/{DB,PTree}, BASEDIR/var/run/sks and BASEDIR/var/log/sks.
set -euo pipefail

dump=${1:?usage: $0 KEYDUMP_DIR [HKP_PORT]}
port=${2:-11380}
recon_port=$((port + 1))
command -v sks >/dev/null || { echo "sks is not installed: apt-get install -y sks" >&2; exit 1; }
dump=$(cd "$dump" && pwd)
shopt -s nullglob
files=("$dump"/*.pgp)
[ ${#files[@]} -gt 0 ] || { echo "no *.pgp files in $dump" >&2; exit 1; }

# SKS_BASE: an empty folder to build in (npm run bench makes one, to remove it whatever happens); else a new one.
base=${SKS_BASE:-$(mktemp -d "${TMPDIR:-/tmp}/sks-bench.XXXXXX")}
mkdir -p "$base/var/lib/sks" "$base/var/run/sks" "$base/var/log/sks" "$base/etc/sks"
touch "$base/membership" "$base/etc/sks/membership"
common=(-basedir "$base" -stdoutlog -hkp_address 127.0.0.1 -hkp_port "$port" -recon_address 127.0.0.1 -recon_port "$recon_port" -hostname localhost)

now() { date +%s.%N; }
# Runs one build step in the folder, logging to STEP.out, and prints SKS_<STEP>_SECONDS (its wall time).
step() {
  local name=$1; shift
  local started; started=$(now)
  (cd "$base" && sks "$@" >"$base/$name.out" 2>&1) || { tail -20 "$base/$name.out" >&2; exit 1; }
  echo "SKS_${name^^}_SECONDS=$(awk -v a="$started" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')"
}
echo "SKS_DIR=$base"
echo "building the SKS database in $base from ${#files[@]} keydump file(s)..." >&2
step build build "${files[@]}" "${common[@]}" -n 10 -cache 100
step cleandb cleandb "${common[@]}"
step pbuild pbuild "${common[@]}" -cache 20 -ptree_cache 70
echo "built; database $(du -sh "$base/var/lib/sks" | cut -f1)" >&2
[ "${BUILD_ONLY:-0}" = 1 ] && exit 0

cd "$base"
nohup sks db "${common[@]}" >"$base/db.out" 2>&1 &
pids=$!
if [ "${NO_RECON:-0}" != 1 ]; then
  nohup sks recon "${common[@]}" -dontgossip >"$base/recon.out" 2>&1 &
  pids="$pids,$!"
fi
echo "$pids" >"$base/pids"

for _ in $(seq 1 100); do
  if curl -fs -o /dev/null "http://127.0.0.1:$port/pks/lookup?op=stats"; then break; fi
  if ! kill -0 "${pids%%,*}" 2>/dev/null; then echo "sks db exited:" >&2; tail -20 "$base/db.out" >&2; exit 1; fi
  sleep 0.2
done
curl -fs -o /dev/null "http://127.0.0.1:$port/pks/lookup?op=stats" || { echo "sks db does not answer on port $port" >&2; exit 1; }

echo "SKS_URL=http://127.0.0.1:$port"
echo "SKS_PIDS=$pids"
echo "measure it:  npm run bench -- --keys N --target http://127.0.0.1:$port --target-pid $pids" >&2
echo "stop it:     kill \$(tr , ' ' < $base/pids) && rm -rf $base" >&2

#!/usr/bin/env bash
# Two emulated hosts: network namespaces A and B joined by a veth pair with
# addresses from the benchmarking range 198.18.0.0/15 (never any other
# network). Two ranks run in each; they bootstrap with rz_comm_init_env
# (RZ_ROOT_ADDR in namespace A) and run the collective sweep over UCX TCP
# only (shared memory would otherwise cross the namespaces).
# Exit 77 = skipped (no privileges or no netns support).
set -u
prog=$1
shift
extra=("$@")
tag=$$
nsA=rzA$tag nsB=rzB$tag vA=rzvA$tag vB=rzvB$tag
addrA=198.18.0.1 addrB=198.18.0.2
port=$(( 20000 + tag % 20000 ))
logdir=$(mktemp -d)

cleanup() {
    for p in "${pids[@]:-}"; do kill -9 "$p" 2>/dev/null; done
    ip netns del "$nsA" 2>/dev/null
    ip netns del "$nsB" 2>/dev/null
    rm -rf "$logdir"
}
trap cleanup EXIT INT TERM

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    echo "SKIP: needs root and iproute2 to create network namespaces"
    exit 77
fi
if ! ip netns add "$nsA" 2>/dev/null; then
    echo "SKIP: cannot create network namespaces here"
    exit 77
fi
set -e
ip netns add "$nsB"
ip link add "$vA" type veth peer name "$vB"
ip link set "$vA" netns "$nsA"
ip link set "$vB" netns "$nsB"
ip -n "$nsA" addr add $addrA/24 dev "$vA"
ip -n "$nsB" addr add $addrB/24 dev "$vB"
ip -n "$nsA" link set "$vA" up
ip -n "$nsB" link set "$vB" up
ip -n "$nsA" link set lo up
ip -n "$nsB" link set lo up
set +e

key=$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')
pids=()
start_rank() {  # rank namespace device
    ip netns exec "$2" env RZ_RANK="$1" RZ_SIZE=4 RZ_ROOT_ADDR="$addrA:$port" \
        RZ_SESSION_KEY="$key" RZ_TIMEOUT_MS=60000 \
        UCX_TLS=tcp,self UCX_NET_DEVICES="$3" \
        timeout 800 "$prog" "${extra[@]}" >"$logdir/rank$1.log" 2>&1 &
    pids+=($!)
}
start_rank 0 "$nsA" "$vA"
start_rank 1 "$nsA" "$vA"
start_rank 2 "$nsB" "$vB"
start_rank 3 "$nsB" "$vB"

fail=0
for i in 0 1 2 3; do
    if ! wait "${pids[$i]}"; then
        fail=1
    fi
done
for i in 0 1 2 3; do
    sed "s/^/[host$((i / 2)) rank $i] /" "$logdir/rank$i.log" | grep -v "not supported" | tail -5
done
if [ $fail -ne 0 ]; then
    echo "test_netns: FAILED"
    exit 1
fi
echo "test_netns: 4 ranks on 2 emulated hosts passed"

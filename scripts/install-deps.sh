#!/usr/bin/env bash
# Install the Debian packages ringzip needs to build and test. A no-op when
# everything is already installed; otherwise runs apt-get update once.
set -eu
pkgs=(
  build-essential cmake pkg-config   # toolchain
  libucx-dev ucx-utils               # transport (and ucx_info)
  libhwloc-dev hwloc                 # topology and binding
  libbenchmark-dev                   # micro-benchmarks
  libopenblas-dev zlib1g-dev         # examples/train_mnist (CBLAS, IDX .gz)
  dataset-fashion-mnist              # its data, in /usr/share/datasets/fashion-mnist
  gnuplot-nox                        # scripts/reproduce.sh plots
  iproute2                           # emulated hosts in network namespaces
  procps                             # pgrep, used by the launcher tests
  openmpi-bin libopenmpi-dev         # Open MPI, the baseline of perf/compare_mpi.sh
  clang libclang-rt-dev              # libFuzzer harnesses of the plugin decoders
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

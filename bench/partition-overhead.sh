#!/usr/bin/env bash
# The cost of splitting a merge into parts (docs/cluster.md): CPU seconds (user + system, /usr/bin/time) of one
# process against the sum over N parts run one after another, plus the join, on the scenario benchmark's 1.5 GB model.
#   bench/partition-overhead.sh [PARTS...]        default: 2 4; models from `bench/run.sh gen --size 1.5GB`
# Outputs go to /dev/shm (the tool, not the disk). Prints a markdown table.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models=${MODELS:-/tmp/dotnet-merge-bench/llama-1.51GB-x3/models}
[ -d "$models/base" ] || { echo "error: no models in $models; run bench/run.sh gen --size 1.5GB first" >&2; exit 2; }
tool="dotnet exec $root/src/Tool/bin/Release/net10.0/dotnet-merge.dll"
parts=("${@:-2 4}"); [ $# -gt 0 ] || parts=(2 4)
work=$(mktemp -d /dev/shm/dmpart.XXXXXX); trap 'rm -rf "$work"' EXIT
cat > "$work/m.yaml" <<YAML
merge_method: linear
models:
  - model: $models/base
    parameters: {weight: 0.5}
  - model: $models/base
    parameters: {weight: 0.5}
dtype: bfloat16
YAML
opts=(--out-shard-size 200MB --no-progress -v q -j 2)
export DOTNET_MERGE_SIMD_RELAUNCH=0
cpu() { /usr/bin/time -f "%U %S %e" -o "$work/t" "$@" >/dev/null; awk '{printf "%.2f %.2f", $1 + $2, $3}' "$work/t"; }
read -r one_cpu one_wall <<<"$(cpu $tool "$work/m.yaml" "$work/one/out" "${opts[@]}")"
# the model card is titled with the directory name: every output is called out
echo "| run | CPU s | wall s | CPU vs one process |"
echo "|---|---|---|---|"
echo "| one process | $one_cpu | $one_wall | 1.000 |"
for n in "${parts[@]}"; do
  out="$work/p$n/out"; sum=0; wall=0
  for ((i = 0; i < n; i++)); do
    read -r c w <<<"$(cpu $tool run "$work/m.yaml" "$out" --part "$i/$n" "${opts[@]}")"
    sum=$(echo "$sum + $c" | bc); wall=$(echo "$wall + $w" | bc)
  done
  read -r jc jw <<<"$(cpu $tool join "$out" --no-progress -v q)"
  diff -r "$work/one/out" "$out" >/dev/null || { echo "error: $n parts + join differ from the one-process merge" >&2; exit 1; }
  echo "| $n parts (sum) | $sum | $wall | $(echo "scale=3; $sum / $one_cpu" | bc) |"
  echo "| $n parts + join | $(echo "$sum + $jc" | bc) | $(echo "$wall + $jw" | bc) | $(echo "scale=3; ($sum + $jc) / $one_cpu" | bc) |"
  rm -rf "$out"
done

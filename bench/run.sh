#!/usr/bin/env bash
# Builds the CLI and the harness in Release, then runs the scenario benchmark (or `micro` for the kernel benchmarks).
#   bench/run.sh                                   # 3 x 1.5 GB models, all scenarios, 1/2/all threads
#   bench/run.sh --size 6GB --threads all          # bigger models (generated once, cached in --work-dir)
#   bench/run.sh --out-dir /dev/shm/dmb            # outputs on tmpfs: the tool without the disk's write speed
#   bench/run.sh micro --filter '*'                # BenchmarkDotNet kernels (elements/s = 1e9 / ns)
#   bench/run.sh tiny --repeat 9                   # start-up: a merge of the demo models vs --version (medians)
#   bench/run.sh tiny --tool A.dll,B.dll           # the same, A/B rounds over several builds of the CLI
# Options: --size, --models, --threads 1,2,all, --scenarios copy,linear,..., --work-dir, --out-dir, --repeat, --markdown FILE,
#          --vocab N --hidden H --layers L (a fixed shape instead of --size)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dotnet build "$root/src/Tool/DotnetMerge.Tool.csproj" -c Release -nologo -v quiet
dotnet build "$root/bench/DotnetMerge.Bench/DotnetMerge.Bench.csproj" -c Release -nologo -v quiet
exec dotnet "$root/bench/DotnetMerge.Bench/bin/Release/net10.0/DotnetMerge.Bench.dll" "$@" \
  $( [[ "${1:-}" == micro || " $* " == *" --tool "* ]] || echo --tool "$root/src/Tool/bin/Release/net10.0/dotnet-merge.dll" )

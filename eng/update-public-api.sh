#!/usr/bin/env bash
# Regenerates PublicAPI.Unshipped.txt of every shipped project (src/*): adds new public symbols (RS0016) and drops removed
# ones (RS0017), with the PublicApiAnalyzers' own code fixes. Run after merging branches that change public API, review the
# diff, commit. Shipped symbols stay in PublicAPI.Shipped.txt (move them there at a release).
#   eng/update-public-api.sh            all src projects
#   eng/update-public-api.sh src/X/X.csproj …
set -euo pipefail
cd "$(dirname "$0")/.."
projects=("$@")
if [ ${#projects[@]} -eq 0 ]; then
  mapfile -t projects < <(ls src/*/*.csproj)
fi
for project in "${projects[@]}"; do
  dir=$(dirname "$project")
  for file in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
    [ -f "$dir/$file" ] || printf '#nullable enable\n' > "$dir/$file"
  done
  echo "public API: $project"
  dotnet restore "$project" -v q
  dotnet format analyzers "$project" --diagnostics RS0016 RS0017 --severity warn --no-restore -v q
  # Sorted, so merges of two branches' additions stay readable.
  { head -n 1 "$dir/PublicAPI.Unshipped.txt"; tail -n +2 "$dir/PublicAPI.Unshipped.txt" | { grep -v '^$' || true; } | LC_ALL=C sort -u; } > "$dir/PublicAPI.Unshipped.txt.tmp"
  mv "$dir/PublicAPI.Unshipped.txt.tmp" "$dir/PublicAPI.Unshipped.txt"
done

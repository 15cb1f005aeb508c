#!/usr/bin/env bash
# Regenerates PublicAPI.Unshipped.txt of every shipped project (src/*) from the PublicApiAnalyzers' own diagnostics: each
# RS0016 ("Symbol 'X' is not part of the declared public API") adds X, each RS0017 ("Symbol 'X' is part of the declared API,
# but is either not public or could not be found") removes X. Run after merging branches that change public API, review the
# diff, commit. Shipped symbols stay in PublicAPI.Shipped.txt (move them there at a release).
#   eng/update-public-api.sh                   all src projects
#   eng/update-public-api.sh src/X/X.csproj …  those
# (dotnet format analyzers --diagnostics RS0016 does not apply the fix reliably when the lists already hold entries.)
set -euo pipefail
cd "$(dirname "$0")/.."
projects=("$@")
if [ ${#projects[@]} -eq 0 ]; then
  mapfile -t projects < <(ls src/*/*.csproj)
fi
for project in "${projects[@]}"; do
  dir=$(dirname "$project")
  full=$(cd "$dir" && pwd)/$(basename "$project")
  for file in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
    [ -f "$dir/$file" ] || printf '#nullable enable\n' > "$dir/$file"
  done
  echo "public API: $project"
  # A full compile with the analyzers, warnings not fatal, so every symbol is reported; only this project's lines are used.
  log=$(dotnet build "$project" --no-incremental -p:TreatWarningsAsErrors=false -v q -nologo 2>&1 || true)
  mine=$(printf '%s\n' "$log" | grep -F "[$full]" || true)
  added=$(printf '%s\n' "$mine" | sed -nE "s/.*RS0016: Symbol '(.*)' is not part of the declared public API.*/\1/p" | LC_ALL=C sort -u)
  removed=$(printf '%s\n' "$mine" | sed -nE "s/.*RS0017: Symbol '(.*)' is part of the declared API, but is either not public or could not be found.*/\1/p" | LC_ALL=C sort -u)
  unshipped="$dir/PublicAPI.Unshipped.txt"
  {
    head -n 1 "$unshipped"
    { tail -n +2 "$unshipped"; [ -n "$added" ] && printf '%s\n' "$added"; true; } \
      | { if [ -n "$removed" ]; then grep -vxF -f <(printf '%s\n' "$removed"); else cat; fi || true; } \
      | { grep -v '^$' || true; } | LC_ALL=C sort -u
  } > "$unshipped.tmp"
  mv "$unshipped.tmp" "$unshipped"
  echo "  added $(printf '%s' "$added" | grep -c . || true), removed $(printf '%s' "$removed" | grep -c . || true)"
  if [ -n "$removed" ] && grep -qxF -f <(printf '%s\n' "$removed") "$dir/PublicAPI.Shipped.txt"; then
    echo "  note: a removed symbol is in PublicAPI.Shipped.txt: a breaking change; mark it *REMOVED* there by hand"
  fi
done

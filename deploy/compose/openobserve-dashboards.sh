#!/bin/sh
# Imports each OpenObserve dashboard in /dashboards (deploy/dashboards/openobserve/*.json)
# through OpenObserve's API, once per version of the file: a marker named after the file's
# SHA-256 is kept in /state (./data/openobserve-dashboards). A changed file is imported again
# as a new dashboard; delete the old one in the UI. Run by docker compose (the
# openobserve-dashboards service) after OpenObserve is healthy.
set -eu
url="${OPENOBSERVE_URL:?}/api/${OPENOBSERVE_ORG:-default}/dashboards"
found=0
for file in /dashboards/*.json; do
  [ -e "$file" ] || continue
  found=$((found + 1))
  sum=$(sha256sum "$file" | cut -c1-16)
  marker="/state/$(basename "$file" .json).$sum"
  if [ -e "$marker" ]; then
    echo "$(basename "$file"): already imported"
    continue
  fi
  curl -fsS -u "${OPENOBSERVE_ROOT_EMAIL:?}:${OPENOBSERVE_ROOT_PASSWORD:?}" \
    -H 'Content-Type: application/json' --data-binary "@$file" "$url" >/dev/null
  touch "$marker"
  echo "$(basename "$file"): imported"
done
echo "$found dashboard file(s) in /dashboards"

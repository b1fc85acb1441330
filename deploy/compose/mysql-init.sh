#!/bin/bash
# One schema and one user per service; each user can touch nothing else. Run by the MariaDB
# image's entrypoint on the first start only (an empty ./data/mysql), with the passwords from
# docker-compose.yml's environment.
set -euo pipefail
client=$(command -v mariadb || command -v mysql)  # MariaDB 11 images ship `mariadb` only
for svc in gateway auth storage aligner janitor notifier; do
  var="${svc^^}_DB_PASSWORD"
  "$client" -uroot -p"${MARIADB_ROOT_PASSWORD}" <<SQL
CREATE DATABASE IF NOT EXISTS \`$svc\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$svc'@'%' IDENTIFIED BY '${!var}';
GRANT ALL PRIVILEGES ON \`$svc\`.* TO '$svc'@'%';
SQL
done

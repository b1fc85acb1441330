#!/bin/bash
# One schema and one user per service; each user can touch nothing else.
set -euo pipefail
for svc in gateway auth storage aligner janitor notifier; do
  var="${svc^^}_DB_PASSWORD"
  mysql -uroot -p"$MYSQL_ROOT_PASSWORD" <<SQL
CREATE DATABASE IF NOT EXISTS \`$svc\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$svc'@'%' IDENTIFIED BY '${!var}';
GRANT ALL PRIVILEGES ON \`$svc\`.* TO '$svc'@'%';
SQL
done

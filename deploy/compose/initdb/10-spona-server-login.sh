#!/bin/sh
# The server's login: a member of spona_app (which migration 0001 grants what a server may do),
# with the password from its secret file. Runs once, on the database's first start.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v password="$(cat /run/secrets/app_password)" <<'SQL'
CREATE ROLE spona_app NOLOGIN;
CREATE ROLE spona_server LOGIN PASSWORD :'password' IN ROLE spona_app;
SQL

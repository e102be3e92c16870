#!/bin/sh
# Run once by the postgres image when it creates its data folder (/docker-entrypoint-initdb.d): a role that
# standbys replicate with, allowed to connect for replication from the compose network (docs/replicas.md).
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "create role replicator with replication login password '${REPLICATION_PASSWORD:-replicator}'"
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"

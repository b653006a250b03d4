#!/usr/bin/env sh
# Points a MinIO deployment's bucket notifications at docflow's uploads stream.
# MinIO's NATS target publishes every event of the bucket rule to one fixed subject,
# PREFIX.uploads.minio, with JetStream on (a publish JetStream acknowledges) and a queue
# directory so events survive outages. It logs in as the NATS user `minio`, which may
# publish that subject only (deploy/nats/nats-server.conf). README.md beside this file.
#
# Usage: notify-nats.sh [OPTION...] ALIAS        (mc must know ALIAS: `mc alias set ...`)
#   --bucket NAME        the uploads bucket (uploads)
#   --address HOST:PORT  NATS as MinIO's servers reach it (127.0.0.1:4222)
#   --prefix PREFIX      docflow's nats.prefix (docflow): subject PREFIX.uploads.minio
#   --user USER          NATS user (minio); its password from $MINIO_NATS_PASSWORD or
#                        --password-file FILE (never an argument of this script)
#   --token-file FILE    a NATS token instead of user and password
#   --ca FILE            TLS, verifying NATS with this CA (a path on the MinIO servers)
#   --cert FILE --key FILE  TLS client certificate and key (paths on the MinIO servers)
#   --tls                TLS with the system's CAs
#   --queue-dir DIR      where events wait while NATS is away (/var/lib/minio/events)
#   --target ID          the target's id (DOCFLOW): arn:minio:sqs::ID:nats
# mc receives the password in its arguments: run this where no other user watches the
# process list, or set the same keys as MINIO_NOTIFY_NATS_*_ID variables of the servers.
set -eu

usage() {
  sed -n 's/^# \{0,1\}//; 8,21p' "$0" >&2
  exit 2
}
need() { [ $# -ge 2 ] || { echo "notify-nats.sh: $1 needs a value" >&2; exit 2; }; }

bucket=uploads address=127.0.0.1:4222 prefix=docflow user=minio password_file='' token_file=''
ca='' cert='' key='' tls=off queue_dir=/var/lib/minio/events target=DOCFLOW alias=''
while [ $# -gt 0 ]; do
  case $1 in
    --bucket) need "$@"; bucket=$2; shift ;;
    --address) need "$@"; address=$2; shift ;;
    --prefix) need "$@"; prefix=$2; shift ;;
    --user) need "$@"; user=$2; shift ;;
    --password-file) need "$@"; password_file=$2; shift ;;
    --token-file) need "$@"; token_file=$2; shift ;;
    --ca) need "$@"; ca=$2; tls=on; shift ;;
    --cert) need "$@"; cert=$2; tls=on; shift ;;
    --key) need "$@"; key=$2; tls=on; shift ;;
    --tls) tls=on ;;
    --queue-dir) need "$@"; queue_dir=$2; shift ;;
    --target) need "$@"; target=$2; shift ;;
    -h | --help) usage ;;
    -*) echo "notify-nats.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$alias" ] || usage; alias=$1 ;;
  esac
  shift
done
[ -n "$alias" ] || usage

fail() { echo "notify-nats.sh: $*" >&2; exit 2; }
# A subject prefix is dot-separated tokens, without wildcards or spaces.
printf '%s' "$prefix" | grep -Eqx '[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*' ||
  fail "--prefix $prefix is not a NATS subject prefix (tokens of letters, digits, - and _, separated by dots)"
{ [ -n "$cert" ] && [ -n "$key" ]; } || { [ -z "$cert" ] && [ -z "$key" ]; } ||
  fail "--cert and --key go together"
case $queue_dir in /*) ;; *) fail "--queue-dir must be an absolute path (MinIO refuses others)" ;; esac

# The target's keys. mc joins its arguments and splits them again on spaces: no value may
# hold one (generate passwords with `openssl rand -hex 24`).
set -- address="$address" subject="$prefix.uploads.minio" jetstream=on
# Credentials: a token, or the user's password; NATS refuses a target without either.
if [ -n "$token_file" ]; then
  set -- "$@" token="$(cat "$token_file")"
else
  if [ -n "$password_file" ]; then
    password=$(cat "$password_file")
  else
    password=${MINIO_NATS_PASSWORD:-}
  fi
  [ -n "$password" ] || fail "no password for NATS user $user: set MINIO_NATS_PASSWORD, or --password-file FILE, or --token-file FILE"
  set -- "$@" username="$user" password="$password"
fi
set -- "$@" tls="$tls"
[ -z "$ca" ] || set -- "$@" cert_authority="$ca"
[ -z "$cert" ] || set -- "$@" client_cert="$cert" client_key="$key"
set -- "$@" queue_dir="$queue_dir" queue_limit=100000
for value in "$@"; do
  case $value in *[[:space:]]*) fail "${value%%=*}: no value may hold a space" ;; esac
done
mc admin config set "$alias" "notify_nats:$target" "$@"
mc admin service restart "$alias"
# `put` = every s3:ObjectCreated:* event; docflow ignores the ones that create no content.
mc event add "$alias/$bucket" "arn:minio:sqs::$target:nats" --event put --ignore-existing
who="user $user"
[ -z "$token_file" ] || who="a token"
echo "notify-nats.sh: $alias/$bucket notifies $prefix.uploads.minio at $address as $who (TLS $tls)"

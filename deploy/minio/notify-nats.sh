#!/usr/bin/env sh
# Points a MinIO deployment's bucket notifications at docflow's uploads stream.
# MinIO's NATS target publishes every event of the bucket rule to one fixed subject, with
# JetStream on (a synchronous publish) and a queue directory so events survive outages.
# Usage: notify-nats.sh ALIAS [BUCKET] [NATS_ADDRESS]      (mc must know ALIAS)
set -eu
alias=$1; bucket=${2:-uploads}; address=${3:-127.0.0.1:4222}
mc admin config set "$alias" notify_nats:DOCFLOW \
  address="$address" subject=docflow.uploads.minio jetstream=on \
  queue_dir=/var/lib/minio/events queue_limit=100000
mc admin service restart "$alias"
# `put` = every s3:ObjectCreated:* event; docflow ignores the ones that create no content.
mc event add "$alias/$bucket" arn:minio:sqs::DOCFLOW:nats --event put --ignore-existing

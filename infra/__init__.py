"""Durable data and machines: game store, shards, registry, storage, hosts, health, timing."""

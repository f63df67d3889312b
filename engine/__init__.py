"""RingRift rules engine, players and neural net. No Prefect, no I/O beyond files handed in."""

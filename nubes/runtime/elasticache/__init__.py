"""ElastiCache's data plane: each cache node is a real ``redis-server`` on a loopback port,
started, watched and stopped here (``nodes.py``); ``resp.py`` is the few RESP commands nubes
itself sends to a node (PING, SAVE, CONFIG SET, REPLICAOF)."""

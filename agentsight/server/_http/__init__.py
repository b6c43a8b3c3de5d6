"""The collector's HTTP plumbing: middleware, bodies, errors, client addresses, keys,
sessions and rate limits."""

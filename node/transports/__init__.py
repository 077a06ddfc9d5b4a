"""Client transports: thin adapters from bytes on a socket to ``node.dispatch``."""

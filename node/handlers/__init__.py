"""One module per command family: authenticate, act, encode the reply."""

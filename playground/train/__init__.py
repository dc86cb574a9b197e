"""Training a net built in the builder, from scratch: the `train` kind."""

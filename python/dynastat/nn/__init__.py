"""Neural-network layers (nn.Cell and friends) are built on the eager autograd of a later release;
this package exists so that scripts importing it run."""

"""Transfer learning from VGG19 (one mode or all three side by side): the `transfer` kind."""

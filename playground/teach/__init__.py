"""Teach it your own objects: train a head on frozen VGG19 features, then serve the
page's frames: the `teach` kind."""

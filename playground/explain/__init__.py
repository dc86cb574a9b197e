"""Looking inside a trained net (Grad-CAM, a confusion cell, a unit, a prediction, VGG19's
units): the `explain` kind."""

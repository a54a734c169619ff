"""An example in the shape of an Agent Builder Python export; see README.md here."""

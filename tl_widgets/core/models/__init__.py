"""Models: the backbone presets (every keras.applications family, the demo backbone, custom
files), their named blocks, pretrained weights, assembling backbone + head, and freezing."""

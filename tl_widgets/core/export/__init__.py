"""Export of a finished run to deployable formats (Keras, SavedModel, TFLite, ONNX), each
verified against the Keras model, and export as a standalone script."""

"""ClearShot's training pipeline for the 1x restoration network (a development tool).

Nothing in here is imported by the service: the only artefact that crosses into
`src/` is the exported ONNX file (and its reference output for the test).
"""
